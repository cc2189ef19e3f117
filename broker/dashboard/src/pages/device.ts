// One Pi: what it is and how it is doing now, its stats over time, the commands and pins its owner
// allowed (from its manifest only: the page never invents one), its doctor report.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, type Me } from '../api.js';
import { StatsCharts } from '../components/charts.js';
import { Commands } from '../components/commands.js';
import { Doctor } from '../components/doctor.js';
import { Gpio } from '../components/gpio.js';
import { ago, bytes, celsius, percent, uptime } from '../format.js';
import type { DeviceLive, LiveStore } from '../live.js';
import { href } from '../route.js';
import { Dialog, messageOf, useLive, useNow } from '../ui.js';
import { OnlineBadge, warnings } from './devices.js';

export function DevicePage({ serial, live }: { serial: string; live: LiveStore; me: Me }) {
  useLive(live);
  const now = useNow();
  const d = live.devices.get(serial);

  if (!d) {
    return live.listed
      ? html`<h1>No such Pi</h1><p>You have no Pi <code>${serial}</code>. <a href=${href.devices}>Your devices</a></p>`
      : html`<p class="muted" aria-busy="true">Loading ${serial}…</p>`;
  }
  const m = d.manifest;
  return html`
    <nav class="crumbs" aria-label="Breadcrumb"><a href=${href.devices}>Devices</a> / <span>${serial}</span></nav>
    <div class="page-head">
      <h1>${serial}</h1>
      <${OnlineBadge} online=${d.online} />
      <span class="muted">${[m?.device.model, m?.device.hostname && m.device.hostname !== serial ? m.device.hostname : null,
        m ? `pi-agent ${m.agentVersion}` : null].filter(Boolean).join(' · ')}</span>
      <${RemoveDevice} serial=${serial} live=${live} />
    </div>
    <${Now} d=${d} now=${now} />
    <section class="card" aria-labelledby="stats-title">
      <h2 id="stats-title">Stats</h2>
      <${StatsCharts} serial=${serial} live=${live} />
    </section>
    <div class="columns">
      <section class="card" aria-labelledby="commands-title">
        <h2 id="commands-title">Commands</h2>
        <${Commands} d=${d} live=${live} />
      </section>
      <section class="card" aria-labelledby="doctor-title">
        <h2 id="doctor-title">Doctor</h2>
        <${Doctor} d=${d} live=${live} />
      </section>
    </div>
    <section class="card" aria-labelledby="gpio-title">
      <h2 id="gpio-title">GPIO</h2>
      <${Gpio} d=${d} live=${live} />
    </section>`;
}

function Now({ d, now }: { d: DeviceLive; now: number }) {
  const s = d.stats;
  const root = s?.disk.find((x) => x.mount === '/') ?? s?.disk[0];
  const warn = warnings(s?.throttled);
  const tiles: Array<[string, string, string?]> = [
    ['Last seen', ago(d.lastSeenAt, now)],
    ['Last data', ago(d.lastDataAt, now)],
    ['CPU', s ? `${Math.round(s.cpu.load)} %` : '—'],
    ['Temperature', celsius(s?.cpu.tempC)],
    ['Memory', s ? `${percent(s.mem.used, s.mem.total)} of ${bytes(s.mem.total)}` : '—'],
    ['Disk', root ? `${percent(root.used, root.size)} of ${bytes(root.size)}` : '—', root ? root.mount : undefined],
    ['Up', s ? uptime(s.uptimeSec) : '—'],
  ];
  return html`
    <dl class="tiles" aria-label="Now">
      ${tiles.map(([k, v, sub]) => html`<div class="tile"><dt>${k}${sub && html` <span class="muted">${sub}</span>`}</dt><dd>${v}</dd></div>`)}
      <div class="tile"><dt>Power</dt><dd>${warn.length === 0 ? 'OK' : warn.map((w) => html`<span class=${`badge ${w.now ? 'bad' : 'warn'}`}>${w.text}</span> `)}</dd></div>
    </dl>`;
}

function RemoveDevice({ serial, live }: { serial: string; live: LiveStore }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const remove = async () => {
    try {
      await api.removeDevice(serial);
      live.forget(serial);
      location.hash = href.devices;
    } catch (e) {
      setError(messageOf(e));
    }
  };
  return html`
    <button type="button" class="danger small push" onClick=${() => setAsking(true)}>Remove…</button>
    ${asking && html`
      <${Dialog} title=${`Remove ${serial}?`} onClose=${() => setAsking(false)}>
        <p>Its certificates are revoked and its connection is cut: it goes offline and leaves the list. To bring
          it back, connect it again with a new API key.</p>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <div class="actions">
          <button type="button" class="secondary" onClick=${() => setAsking(false)}>Cancel</button>
          <button type="button" class="danger" onClick=${remove}>Remove ${serial}</button>
        </div>
      </${Dialog}>`}`;
}
