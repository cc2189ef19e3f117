// The user's audit log, newest first, 50 at a time.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type AuditEntry } from '../api.js';
import { Empty, messageOf } from '../ui.js';

function detailText(d: unknown): string {
  if (d === null || d === undefined) return '';
  if (typeof d !== 'object') return String(d);
  return Object.entries(d as Record<string, unknown>)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
}

export function AuditPage() {
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = async (before?: number) => {
    setBusy(true);
    try {
      const r = await api.audit(before);
      setEntries((old) => (before && old ? [...old, ...r.entries] : r.entries));
      setNext(r.next);
      setError(null);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => { void load(); }, []);
  return html`
    <div class="page-head"><h1>Audit log</h1>
      <button type="button" class="secondary small push" onClick=${() => load()} disabled=${busy}>Refresh</button></div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${entries === null ? html`<p class="muted" aria-busy="true">Loading…</p>` : entries.length === 0 ? html`<${Empty}>Nothing yet.</${Empty}>` : html`
      <table class="responsive audit" aria-label="Audit log">
        <thead><tr><th>When</th><th>Who</th><th>What</th><th>Pi</th><th>Detail</th></tr></thead>
        <tbody>${entries.map((e) => html`<tr key=${e.id}>
          <td data-label="When" class="nowrap">${new Date(e.ts).toLocaleString()}</td>
          <td data-label="Who">${e.actor}</td>
          <td data-label="What"><code>${e.action}</code></td>
          <td data-label="Pi">${e.deviceSerial ?? ''}</td>
          <td data-label="Detail" class="detail">${detailText(e.detail)}</td>
        </tr>`)}</tbody>
      </table>
      ${next !== null && html`<button type="button" class="secondary" disabled=${busy} onClick=${() => load(next)}>Older entries</button>`}`}`;
}
