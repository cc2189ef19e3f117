// The Pi's last doctor report (retained on devices/<serial>/doctor) and a button to run the checks again.
import { html } from 'htm/preact';
import { ago, duration } from '../format.js';
import type { DeviceLive, LiveStore } from '../live.js';
import { Empty, useNow } from '../ui.js';

const LABEL = { pass: 'Pass', warn: 'Warn', fail: 'Fail', skip: 'Skipped' } as const;

export function Doctor({ d, live }: { d: DeviceLive; live: LiveStore }) {
  const now = useNow();
  const report = d.doctor;
  const last = [...live.runs.values()].filter((r) => r.serial === d.serial && r.module === 'doctor').at(-1);
  const running = last && !last.result && !last.failed;
  const failed = last?.failed ?? (last?.result?.error ? `${last.result.error.code}: ${last.result.error.message}` : null);
  return html`
    <div class="doctor-head">
      ${report
        ? html`<span class=${`badge ${report.ok ? 'ok' : 'bad'}`}>${report.ok ? 'Healthy' : 'Problems found'}</span>
            <span class="muted small">checked ${ago(report.ts, now)}</span>`
        : d.manifest?.doctor ? html`<span class="muted">No report yet.</span>` : null}
      ${d.manifest?.doctor && html`
        <button type="button" class="secondary small push" disabled=${running} aria-busy=${running}
          onClick=${() => live.run(d.serial, 'doctor', 'run', 'Doctor checks', {})}>${running ? 'Checking…' : 'Run checks'}</button>`}
    </div>
    ${failed && html`<p class="error small" role="alert">${failed}</p>`}
    ${!d.manifest?.doctor && !report && html`<${Empty}>This Pi has no doctor module.</${Empty}>`}
    ${report && html`
      <ul class="checks" aria-label="Doctor checks">
        ${report.checks.map((c) => html`
          <li class=${`check ${c.status}`} key=${`${c.module}/${c.name}`}>
            <span class=${`badge ${c.status === 'pass' ? 'ok' : c.status === 'fail' ? 'bad' : c.status === 'warn' ? 'warn' : ''}`}>${LABEL[c.status]}</span>
            <span class="check-title">${c.title}</span>
            <span class="muted small check-detail">${c.detail}</span>
            <span class="muted small">${duration(c.durationMs)}</span>
          </li>`)}
      </ul>`}`;
}
