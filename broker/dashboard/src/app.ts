// Who is signed in, and the page for the route. A session cookie or a client certificate both answer
// GET /api/v1/me; only without either does the login page show.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Me } from './api.js';
import { LiveStore } from './live.js';
import { AddPiPage } from './pages/add-pi.js';
import { AuditPage } from './pages/audit.js';
import { DevicePage } from './pages/device.js';
import { DevicesPage } from './pages/devices.js';
import { KeysPage } from './pages/keys.js';
import { LoginPage } from './pages/login.js';
import { SessionsPage } from './pages/sessions.js';
import { href, type Route, useRoute } from './route.js';
import { messageOf, useLive } from './ui.js';

type Auth =
  | { s: 'loading' }
  | { s: 'out'; notice: string | null }
  | { s: 'in'; me: Me; live: LiveStore }
  | { s: 'error'; message: string };

export function App() {
  const [auth, setAuth] = useState<Auth>({ s: 'loading' });

  const enter = async (noticeIfOut: string | null) => {
    try {
      const me = await api.me();
      const live = new LiveStore(() => setAuth({ s: 'out', notice: 'Your session has ended. Sign in again.' }));
      setAuth({ s: 'in', me, live });
      void live.start();
    } catch (e) {
      setAuth(e instanceof ApiError && e.status === 401 ? { s: 'out', notice: noticeIfOut } : { s: 'error', message: messageOf(e) });
    }
  };
  useEffect(() => { void enter(null); }, []);
  useEffect(() => (auth.s === 'in' ? () => auth.live.stop() : undefined), [auth]);

  switch (auth.s) {
    case 'loading': return html`<main class="loading" aria-busy="true">Loading…</main>`;
    case 'error': return html`<main class="login"><div class="card"><p class="error" role="alert">${auth.message}</p>
      <button onClick=${() => enter(null)}>Try again</button></div></main>`;
    case 'out': return html`<${LoginPage} notice=${auth.notice} onLoggedIn=${() => enter('That did not work: sign in again.')} />`;
    case 'in': {
      const logout = async () => {
        auth.live.stop();
        try { await api.logout(); } catch { /* the session may be gone already; the page is out either way */ }
        setAuth({ s: 'out', notice: 'You are signed out.' });
      };
      return html`<${Shell} me=${auth.me} live=${auth.live} onLogout=${logout} />`;
    }
  }
}

const NAV: Array<[string, string, Route['page'][]]> = [
  ['Devices', href.devices, ['devices', 'device']],
  ['Add a Pi', href.add, ['add']],
  ['API keys', href.keys, ['keys']],
  ['Sessions', href.sessions, ['sessions']],
  ['Audit log', href.audit, ['audit']],
];

function Shell({ me, live, onLogout }: { me: Me; live: LiveStore; onLogout: () => void }) {
  const route = useRoute();
  return html`
    <header class="top">
      <a class="brand" href=${href.devices}><span class="brand-mark" aria-hidden="true"></span>pifleet</a>
      <nav aria-label="Main">
        ${NAV.map(([label, to, pages]) => html`
          <a href=${to} aria-current=${pages.includes(route.page) ? 'page' : undefined}>${label}</a>`)}
      </nav>
      <div class="who">
        <${LinkState} live=${live} />
        <span class="user" title=${me.via === 'certificate' ? 'signed in by a client certificate' : undefined}>${me.user.name}</span>
        ${me.via === 'session'
          ? html`<button type="button" class="secondary small" onClick=${onLogout}>Log out</button>`
          : html`<span class="muted small">certificate</span>`}
      </div>
    </header>
    <main class="page">${page(route, me, live)}</main>`;
}

function page(route: Route, me: Me, live: LiveStore) {
  switch (route.page) {
    case 'devices': return html`<${DevicesPage} live=${live} />`;
    case 'device': return html`<${DevicePage} key=${route.serial} serial=${route.serial} live=${live} me=${me} />`;
    case 'add': return html`<${AddPiPage} me=${me} live=${live} />`;
    case 'keys': return html`<${KeysPage} />`;
    case 'sessions': return html`<${SessionsPage} />`;
    case 'audit': return html`<${AuditPage} />`;
    case 'not-found': return html`<h1>Not found</h1><p>Nothing at <code>${route.path}</code>. <a href=${href.devices}>Your devices</a></p>`;
  }
}

function LinkState({ live }: { live: LiveStore }) {
  useLive(live);
  const text = { connecting: 'Connecting…', online: 'Live', offline: 'Reconnecting…', 'signed-out': 'Signed out' }[live.link];
  // data-messages: what the live view took in, for the throughput measurement (test/e2e/live-rate.test.ts).
  return html`<span class=${`link-state link-${live.link}`} role="status" aria-label=${`Connection to the hub: ${text}`} data-messages=${live.messages}>
    <span class="dot" aria-hidden="true"></span>${text}</span>`;
}
