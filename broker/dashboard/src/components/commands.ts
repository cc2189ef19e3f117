// The commands a Pi allows, exactly as its manifest lists them, with a field per declared parameter;
// a `confirm` command asks first, showing what will run. Results as they come back.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { ManifestModule } from '../../../../shared/schemas.js';
import { duration } from '../format.js';
import type { CommandRun, DeviceLive, LiveStore } from '../live.js';
import { Empty } from '../ui.js';
import { checkParam, type Preview, previewOf } from '../command-logic.js';
import { ConfirmRun } from './preview.js';

type ManifestCommand = ManifestModule['commands'][number];

interface Asking { mod: ManifestModule; cmd: ManifestCommand; params: Record<string, string | number>; preview: Preview }

export function Commands({ d, live }: { d: DeviceLive; live: LiveStore }) {
  const [asking, setAsking] = useState<Asking | null>(null);
  const modules = (d.manifest?.modules ?? []).filter((m) => m.kind === 'commands' && m.commands.length > 0);
  const runs = [...live.runs.values()].filter((r) => r.serial === d.serial && r.module !== 'doctor').reverse().slice(0, 10);

  const submit = (mod: ManifestModule, cmd: ManifestCommand, params: Record<string, string | number>) => {
    if (cmd.confirm) setAsking({ mod, cmd, params, preview: previewOf(mod, cmd, params) });
    else live.run(d.serial, mod.id, cmd.name, cmd.title, params, mod.sha256);
  };

  if (!d.manifest) return html`<${Empty}>This Pi has not said what it allows yet.</${Empty}>`;
  return html`
    ${modules.length === 0 && html`<${Empty}>This Pi allows no commands. Its owner adds them in <code>/etc/pi-agent/modules</code>.</${Empty}>`}
    ${modules.map((mod) => html`
      <div class="module" key=${mod.id}>
        <h3>${mod.title}</h3>
        ${mod.commands.map((cmd) => html`<${CommandForm} key=${cmd.name} mod=${mod} cmd=${cmd} online=${d.online} onSubmit=${submit} />`)}
      </div>`)}
    ${asking && html`<${ConfirmRun} title=${asking.cmd.title} serial=${d.serial} preview=${asking.preview}
      onCancel=${() => setAsking(null)}
      onRun=${() => { live.run(d.serial, asking.mod.id, asking.cmd.name, asking.cmd.title, asking.params, asking.mod.sha256); setAsking(null); }} />`}
    ${runs.length > 0 && html`<div class="results" aria-label="Results">${runs.map((r) => html`<${Result} key=${r.id} run=${r} online=${d.online} />`)}</div>`}`;
}

function CommandForm({ mod, cmd, online, onSubmit }: {
  mod: ManifestModule; cmd: ManifestCommand; online: boolean; onSubmit: (m: ManifestModule, c: ManifestCommand, p: Record<string, string | number>) => void;
}) {
  const names = Object.keys(cmd.params);
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(names.map((n) => { const s = cmd.params[n]!; return [n, 'enum' in s ? s.enum[0]! : '']; })));
  const [problem, setProblem] = useState<string | null>(null);
  const id = `c-${mod.id}-${cmd.name}`;

  const submit = (e: Event) => {
    e.preventDefault();
    const params: Record<string, string | number> = {};
    for (const n of names) {
      const r = checkParam(cmd.params[n]!, values[n] ?? '');
      if (typeof r === 'object') return setProblem(`${cmd.params[n]!.title ?? n}: ${r.problem}`);
      params[n] = r;
    }
    setProblem(null);
    onSubmit(mod, cmd, params);
  };

  return html`
    <form class="command" onSubmit=${submit} aria-label=${cmd.title}>
      <div class="command-head">
        <span class="command-title">${cmd.title}</span>
        <span class="badge">as ${cmd.user}</span>
        ${cmd.confirm && html`<span class="badge warn">asks first</span>`}
      </div>
      ${names.length > 0 && html`<div class="params">${names.map((n) => {
        const spec = cmd.params[n]!;
        const set = (e: Event) => setValues({ ...values, [n]: (e.target as HTMLInputElement).value });
        return html`<label>${spec.title ?? n}
          ${'enum' in spec
            ? html`<select name=${n} value=${values[n]} onChange=${set}>${spec.enum.map((o) => html`<option value=${o}>${o}</option>`)}</select>`
            : 'type' in spec
              ? html`<input name=${n} type="number" step="1" min=${spec.min} max=${spec.max} required value=${values[n]} onInput=${set} />`
              : html`<input name=${n} required maxlength=${spec.maxLength ?? 256} value=${values[n]} onInput=${set} />`}
        </label>`;
      })}</div>`}
      ${problem && html`<p class="error small" role="alert" id=${`${id}-problem`}>${problem}</p>`}
      <button type="submit" class=${cmd.confirm ? 'danger' : 'secondary'} aria-label=${`Run ${cmd.title}`}
        title=${online ? undefined : 'The Pi is offline: the request waits at the hub until it is back'}>Run</button>
    </form>`;
}

function Result({ run, online }: { run: CommandRun; online: boolean }) {
  const r = run.result;
  const params = Object.entries(run.params).map(([k, v]) => `${k}=${v}`).join(' ');
  let state: string;
  let cls = 'pending';
  if (r) {
    cls = r.ok ? 'ok' : 'bad';
    state = r.error ? `${r.error.code}: ${r.error.message}` : r.exitCode !== null ? `exit code ${r.exitCode}` : `killed by ${r.signal ?? 'a signal'}`;
    if (r.error && r.exitCode !== null) state += ` (exit code ${r.exitCode})`;
  } else if (run.failed) {
    cls = 'bad';
    state = `not sent: ${run.failed}`;
  } else {
    state = !run.accepted ? 'sending…' : online ? 'running on the Pi…' : 'waiting at the hub until the Pi is back…';
  }
  return html`
    <article class=${`result ${cls}`} aria-label=${`Result of ${run.title}`} aria-busy=${!r && !run.failed}>
      <header>
        <strong>${run.title}</strong>${params && html` <code class="small">${params}</code>`}
        <span class="result-state">${state}</span>
        ${r && html`<span class="muted small">${duration(r.durationMs)}</span>`}
        <span class="muted small push">${new Date(run.sentAt).toLocaleTimeString()}</span>
      </header>
      ${r?.stdout && html`<pre aria-label="Output">${r.stdout}</pre>`}
      ${r?.stderr && html`<pre class="stderr" aria-label="Errors">${r.stderr}</pre>`}
      ${r?.truncated && html`<p class="muted small">The output was cut at 64 KiB per stream.</p>`}
    </article>`;
}
