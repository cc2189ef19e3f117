// What a confirmed command will run, shown before it runs: the program and its arguments with the
// parameters filled in, the user, and the module file version the Pi has in force — as far as the
// manifest says. Where it does not, the dialog says so rather than guess.
import { html } from 'htm/preact';
import type { Preview } from '../command-logic.js';
import { shellQuote } from '../format.js';
import { Dialog } from '../ui.js';

export function ConfirmRun({ title, serial, preview, onCancel, onRun }: {
  title: string; serial: string; preview: Preview; onCancel: () => void; onRun: () => void;
}) {
  const missing = [preview.argv ? null : 'the program and arguments', preview.sha256 ? null : 'the module file version'].filter(Boolean);
  return html`
    <${Dialog} title=${`Run “${title}” on ${serial}?`} onClose=${onCancel}>
      <dl class="preview" aria-label="What will run">
        <dt>Runs</dt>
        <dd>${preview.argv
          ? html`<code class="argv" aria-label="Command line">${shellQuote(preview.argv)}</code>
              <div class="muted small">No shell: the program and its ${preview.argv.length - 1} arguments exactly, quoted here only where a space or symbol needs it.</div>`
          : html`<span class="muted">not in this Pi's manifest</span>`}</dd>
        <dt>As user</dt><dd><code aria-label="User">${preview.user}</code></dd>
        <dt>Module</dt>
        <dd><code>${preview.module}</code>${preview.file && html` from <code>${preview.file}</code>`}
          ${preview.sha256
            ? html`<div class="small">version <code aria-label="Module file SHA-256" title=${preview.sha256}>sha256 ${preview.sha256.slice(0, 16)}…</code></div>`
            : null}</dd>
        <dt>Time limit</dt><dd>${preview.timeoutSec} s</dd>
      </dl>
      ${missing.length > 0 && html`
        <p class="notice small" role="note">${`This Pi's manifest does not carry ${missing.join(' or ')}, so the page cannot show ${
          missing.length > 1 ? 'them' : 'it'}; check `}<code>/etc/pi-agent/modules</code> on the Pi if in doubt.</p>`}
      <div class="actions">
        <button type="button" class="secondary" onClick=${onCancel} autofocus>Cancel</button>
        <button type="button" class="danger" onClick=${onRun}>Run ${title}</button>
      </div>
    </${Dialog}>`;
}
