// Signing in with a user name and password (a browser with a user certificate never sees this page).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';

export function LoginPage({ notice, onLoggedIn }: { notice: string | null; onLoggedIn: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.login(username, password);
      onLoggedIn();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'Wrong user name or password.' : err instanceof Error ? err.message : String(err));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return html`
    <main class="login">
      <form class="card login-card" onSubmit=${submit} aria-labelledby="login-title">
        <div class="brand brand-large"><span class="brand-mark" aria-hidden="true"></span>pifleet</div>
        <h1 id="login-title">Sign in</h1>
        ${notice && html`<p class="notice" role="status">${notice}</p>`}
        <label>User name
          <input name="username" autocomplete="username" required autofocus value=${username}
            onInput=${(e: Event) => setUsername((e.target as HTMLInputElement).value)} />
        </label>
        <label>Password
          <input name="password" type="password" autocomplete="current-password" required value=${password}
            onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
        <p class="hint">No account yet? On the hub: <code>pi-hub user add NAME</code></p>
      </form>
    </main>`;
}
