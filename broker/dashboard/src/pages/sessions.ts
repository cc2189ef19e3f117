// Where the user is signed in; ending a session signs that browser out and cuts its live connection.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type SessionView } from '../api.js';
import { ago, dateTime } from '../format.js';
import { Empty, messageOf } from '../ui.js';

/** "Firefox on Linux" from a user agent, enough to tell one's browsers apart. */
export function browserOf(ua: string | null): string {
  if (!ua) return 'unknown';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari' : /curl\//.test(ua) ? 'curl' : null;
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS'
    : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : null;
  return browser ? (os ? `${browser} on ${os}` : browser) : ua.slice(0, 60);
}

export function SessionsPage() {
  const [sessions, setSessions] = useState<SessionView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => api.sessions().then(setSessions, (e: unknown) => setError(messageOf(e)));
  useEffect(() => { void load(); }, []);
  const end = async (s: SessionView) => {
    try {
      await api.endSession(s.id);
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  };
  return html`
    <div class="page-head"><h1>Sessions</h1></div>
    <p class="muted">Browsers signed in as you. A session ends after 7 days unused, and 30 days after it began.</p>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${sessions === null ? html`<p class="muted" aria-busy="true">Loading…</p>` : sessions.length === 0 ? html`<${Empty}>No sessions: you are signed in with a certificate.</${Empty}>` : html`
      <table class="responsive" aria-label="Sessions">
        <thead><tr><th>Browser</th><th>Address</th><th>Signed in</th><th>Last used</th><th>Ends</th><th></th></tr></thead>
        <tbody>${sessions.map((s) => html`<tr key=${s.id}>
          <td data-label="Browser">${browserOf(s.userAgent)}${s.current && html` <span class="badge ok">this one</span>`}</td>
          <td data-label="Address">${s.address ?? '—'}</td>
          <td data-label="Signed in">${dateTime(s.createdAt)}</td>
          <td data-label="Last used">${ago(s.lastUsedAt)}</td>
          <td data-label="Ends">${dateTime(s.expiresAt)}</td>
          <td>${!s.current && html`<button type="button" class="secondary small" aria-label=${`End the session from ${browserOf(s.userAgent)} signed in ${dateTime(s.createdAt)}`}
            onClick=${() => end(s)}>End</button>`}</td>
        </tr>`)}</tbody>
      </table>`}`;
}
