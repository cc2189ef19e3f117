// The form that makes an API key (POST /api/v1/apikeys): "Add a Pi" and the API keys page share it.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, type ApiKey } from '../api.js';
import { messageOf } from '../ui.js';

const EXPIRY: Array<[string, number | null]> = [['1 hour', 3600], ['24 hours', 86_400], ['7 days', 7 * 86_400], ['30 days', 30 * 86_400], ['never', null]];

export type CreatedKey = ApiKey & { key: string };

export function NewKeyForm({ scopesChoice, defaultUses, submitLabel, onCreated }: {
  /** Whether the user picks the scopes; else the key may only enroll Pis. */
  scopesChoice: boolean; defaultUses: string; submitLabel: string; onCreated: (k: CreatedKey) => void;
}) {
  const [name, setName] = useState('');
  const [uses, setUses] = useState(defaultUses);
  const [expiry, setExpiry] = useState('1');
  const [scopes, setScopes] = useState<Record<string, boolean>>({ enroll: true, read: false });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const chosen = scopesChoice ? Object.keys(scopes).filter((s) => scopes[s]) : ['enroll'];
    if (chosen.length === 0) return setError('Choose at least one thing the key may do.');
    const expiresInSec = EXPIRY[Number(expiry)]![1];
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.createKey({
        ...(name.trim() ? { name: name.trim() } : {}),
        scopes: chosen,
        ...(uses.trim() ? { uses: Number(uses) } : {}),
        ...(expiresInSec ? { expiresInSec } : {}),
      }));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const value = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);
  return html`
    <form class="new-key" onSubmit=${submit}>
      <label>Name <span class="muted small">(optional, for you)</span>
        <input name="name" maxlength="80" value=${name} onInput=${value(setName)} placeholder="kitchen Pi" /></label>
      <label>Pis it may enroll <span class="muted small">(empty: any number)</span>
        <input name="uses" type="number" min="1" step="1" value=${uses} onInput=${value(setUses)} /></label>
      <label>Valid for
        <select name="expiry" value=${expiry} onChange=${value(setExpiry)}>
          ${EXPIRY.map(([label], i) => html`<option value=${String(i)}>${label}</option>`)}
        </select></label>
      ${scopesChoice && html`
        <fieldset>
          <legend>It may</legend>
          <label class="check"><input type="checkbox" checked=${scopes.enroll} onChange=${(e: Event) => setScopes({ ...scopes, enroll: (e.target as HTMLInputElement).checked })} />
            enroll Pis (<code>pi-agent connect</code>)</label>
          <label class="check"><input type="checkbox" checked=${scopes.read} onChange=${(e: Event) => setScopes({ ...scopes, read: (e.target as HTMLInputElement).checked })} />
            read the device list (scripts)</label>
        </fieldset>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" disabled=${busy}>${submitLabel}</button>
    </form>`;
}
