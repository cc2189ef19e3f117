// The user's Pis: online or not (the retained status), when each was last heard from and when it last
// sent data — apart, since a Pi can be connected and silent —, its model, temperature and power warnings.
import { html } from 'htm/preact';
import type { Throttled } from '../../../../shared/schemas.js';
import { ago, celsius } from '../format.js';
import type { DeviceLive, LiveStore } from '../live.js';
import { href } from '../route.js';
import { Empty, useLive, useNow } from '../ui.js';

/** An online Pi that sent no stats for this long is flagged as silent. */
const SILENT_MS = 3 * 60_000;

export function warnings(t: Throttled | null | undefined): Array<{ text: string; now: boolean }> {
  if (!t) return [];
  const out: Array<{ text: string; now: boolean }> = [];
  if (t.underVoltageNow) out.push({ text: 'Under-voltage', now: true });
  else if (t.underVoltageEver) out.push({ text: 'Under-voltage since boot', now: false });
  if (t.throttledNow) out.push({ text: 'Throttled', now: true });
  else if (t.throttledEver) out.push({ text: 'Throttled since boot', now: false });
  if (t.freqCappedNow) out.push({ text: 'Frequency capped', now: true });
  if (t.softTempLimitNow) out.push({ text: 'Soft temperature limit', now: true });
  return out;
}

export function OnlineBadge({ online }: { online: boolean }) {
  return html`<span class=${`badge ${online ? 'ok' : 'off'}`}>${online ? 'Online' : 'Offline'}</span>`;
}

export function DevicesPage({ live }: { live: LiveStore }) {
  useLive(live);
  const now = useNow();
  const devices = [...live.devices.values()].sort((a, b) => Number(b.online) - Number(a.online) || a.serial.localeCompare(b.serial));
  const online = devices.filter((d) => d.online).length;
  return html`
    <div class="page-head">
      <h1>Devices</h1>
      <p class="muted">${devices.length === 0 ? '' : `${online} of ${devices.length} online`}</p>
      <a class="button" href=${href.add}>Add a Pi</a>
    </div>
    ${devices.length === 0
      ? html`<${Empty}>No Pi yet. <a href=${href.add}>Add your first Pi</a>: it takes one command on the Pi.</${Empty}>`
      : html`
        <table class="devices responsive" aria-label="Your devices">
          <thead><tr><th>Pi</th><th>State</th><th>Last seen</th><th>Last data</th><th>Model</th><th>Temperature</th><th>Warnings</th></tr></thead>
          <tbody>${devices.map((d) => html`<${Row} key=${d.serial} d=${d} now=${now} />`)}</tbody>
        </table>`}`;
}

function Row({ d, now }: { d: DeviceLive; now: number }) {
  const silent = d.online && (d.lastDataAt === null || now - d.lastDataAt > SILENT_MS);
  const warn = warnings(d.stats?.throttled);
  const temp = d.stats?.cpu.tempC;
  return html`
    <tr data-serial=${d.serial} class=${d.online ? '' : 'is-offline'}>
      <td data-label="Pi">
        <a class="serial" href=${href.device(d.serial)}>${d.serial}</a>
        ${d.manifest && d.manifest.device.hostname !== d.serial && html`<div class="muted small">${d.manifest.device.hostname}</div>`}
      </td>
      <td data-label="State"><${OnlineBadge} online=${d.online} /></td>
      <td data-label="Last seen" class="last-seen">${ago(d.lastSeenAt, now)}</td>
      <td data-label="Last data" class="last-data">${ago(d.lastDataAt, now)}${silent && html` <span class="badge warn">silent</span>`}</td>
      <td data-label="Model">${d.manifest?.device.model ?? html`<span class="muted">unknown</span>`}</td>
      <td data-label="Temperature" class=${temp !== null && temp !== undefined && temp >= 70 ? 'hot' : ''}>${celsius(temp)}</td>
      <td data-label="Warnings">${warn.length === 0
        ? html`<span class="muted">none</span>`
        : warn.map((w) => html`<span class=${`badge ${w.now ? 'bad' : 'warn'}`}>${w.text}</span> `)}</td>
    </tr>`;
}
