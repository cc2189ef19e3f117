// API keys: what each may do and whether it still works; revoking one also revokes the certificates of
// the Pis it enrolled, which go offline at once.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type ApiKey } from '../api.js';
import { NewKeyForm, type CreatedKey } from '../components/new-key.js';
import { ago, dateTime } from '../format.js';
import { CopyField, Dialog, Empty, messageOf } from '../ui.js';

export function keyState(k: ApiKey, now = Date.now()): string {
  if (k.revokedAt !== null) return 'revoked';
  if (k.expiresAt !== null && k.expiresAt <= now) return 'expired';
  if (k.usesLeft === 0) return 'used up';
  return 'active';
}

const keyLabel = (k: ApiKey) => k.name ?? k.id;

export function KeysPage() {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const load = () => api.keys().then((k) => { setKeys(k); setError(null); }, (e: unknown) => setError(messageOf(e)));
  useEffect(() => { void load(); }, []);

  const revoke = async (k: ApiKey) => {
    try {
      const r = await api.revokeKey(k.id);
      setRevoking(null);
      setNotice(`${keyLabel(k)} is revoked${r.certificates > 0 ? `, and with it the certificates of ${r.certificates} Pi${r.certificates === 1 ? '' : 's'}` : ''}.`);
      await load();
    } catch (e) {
      setRevoking(null);
      setError(messageOf(e));
    }
  };

  return html`
    <div class="page-head">
      <h1>API keys</h1>
      <button type="button" class="push" onClick=${() => { setCreating(!creating); setCreated(null); }}>${creating ? 'Close' : 'New key'}</button>
    </div>
    ${creating && html`
      <section class="card narrow" aria-label="New key">
        ${created
          ? html`<${CopyField} label="API key" value=${created.key} />
              <p class="notice small" role="note">Shown only now: copy it before you close this.</p>`
          : html`<${NewKeyForm} scopesChoice=${true} defaultUses="" submitLabel="Create the key" onCreated=${(k: CreatedKey) => { setCreated(k); void load(); }} />`}
      </section>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    ${keys === null ? html`<p class="muted" aria-busy="true">Loading…</p>` : keys.length === 0 ? html`<${Empty}>No API keys.</${Empty}>` : html`
      <table class="responsive" aria-label="API keys">
        <thead><tr><th>Key</th><th>State</th><th>May</th><th>Pis left</th><th>Expires</th><th>Created</th><th>Last used</th><th></th></tr></thead>
        <tbody>${keys.map((k) => {
          const state = keyState(k);
          return html`<tr key=${k.id} class=${state === 'active' ? '' : 'is-offline'}>
            <td data-label="Key"><strong>${keyLabel(k)}</strong>${k.name && html`<div class="muted small"><code>${k.id}</code></div>`}</td>
            <td data-label="State"><span class=${`badge ${state === 'active' ? 'ok' : 'off'}`}>${state}</span></td>
            <td data-label="May">${k.scopes.join(', ')}</td>
            <td data-label="Pis left">${k.usesLeft ?? 'any'}</td>
            <td data-label="Expires">${k.expiresAt ? dateTime(k.expiresAt) : 'never'}</td>
            <td data-label="Created">${dateTime(k.createdAt)}</td>
            <td data-label="Last used">${ago(k.lastUsedAt)}</td>
            <td>${k.revokedAt === null && html`<button type="button" class="danger small" aria-label=${`Revoke ${keyLabel(k)}`} onClick=${() => setRevoking(k)}>Revoke</button>`}</td>
          </tr>`;
        })}</tbody>
      </table>`}
    ${revoking && html`
      <${Dialog} title=${`Revoke ${keyLabel(revoking)}?`} onClose=${() => setRevoking(null)}>
        <p>The key stops working, and <strong>every Pi it enrolled loses its certificate</strong>: they go offline now and
          need a new key to come back.</p>
        <div class="actions">
          <button type="button" class="secondary" onClick=${() => setRevoking(null)}>Cancel</button>
          <button type="button" class="danger" onClick=${() => revoke(revoking)}>Revoke the key</button>
        </div>
      </${Dialog}>`}`;
}
