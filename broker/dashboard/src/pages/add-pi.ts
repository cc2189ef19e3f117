// "Add a Pi": a key that may only enroll, then the two things to paste on the Pi — the connect line,
// and the key when it asks. The key never goes on the command line (shell history, ps): issue 9's safe form.
import { html } from 'htm/preact';
import { useRef, useState } from 'preact/hooks';
import type { Me } from '../api.js';
import { NewKeyForm, type CreatedKey } from '../components/new-key.js';
import type { LiveStore } from '../live.js';
import { href } from '../route.js';
import { CopyField, useLive } from '../ui.js';

export function connectLine(me: Me): string {
  return `sudo pi-agent connect --hub ${me.hub.publicUrl} --fingerprint ${me.hub.fingerprint} --api-key -`;
}

export function AddPiPage({ me, live }: { me: Me; live: LiveStore }) {
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const known = useRef<Set<string>>(new Set());
  const onCreated = (k: CreatedKey) => {
    known.current = new Set([...live.devices.values()].filter((d) => d.online).map((d) => d.serial));
    setCreated(k);
  };
  return html`
    <div class="page-head"><h1>Add a Pi</h1></div>
    ${created
      ? html`<${Instructions} me=${me} created=${created} live=${live} known=${known.current} onAgain=${() => setCreated(null)} />`
      : html`
        <section class="card narrow">
          <p>A Pi joins with a one-time API key: make one here, then run one command on the Pi. The key may only
            enroll Pis, so it cannot read your fleet if it leaks.</p>
          <${NewKeyForm} scopesChoice=${false} defaultUses="1" submitLabel="Create a key" onCreated=${onCreated} />
        </section>`}`;
}

function Instructions({ me, created, live, known, onAgain }: { me: Me; created: CreatedKey; live: LiveStore; known: Set<string>; onAgain: () => void }) {
  useLive(live);
  const joined = [...live.devices.values()].filter((d) => d.online && !known.has(d.serial));
  const limits = [created.usesLeft === null ? 'any number of Pis' : `${created.usesLeft} Pi${created.usesLeft === 1 ? '' : 's'}`,
    created.expiresAt ? `until ${new Date(created.expiresAt).toLocaleString()}` : 'with no expiry'].join(', ');
  return html`
    <section class="card narrow" aria-labelledby="steps-title">
      <h2 id="steps-title">On the Pi</h2>
      <ol class="steps">
        <li>Install pi-agent (see the README), then run:
          <${CopyField} label="Command for the Pi" value=${connectLine(me)} /></li>
        <li>When it asks for the API key, paste:
          <${CopyField} label="API key" value=${created.key} />
          <p class="notice small" role="note">This key is shown only now: copy it before you leave this page. It enrolls ${limits}.</p></li>
        <li>The Pi checks that the hub's CA has the fingerprint above before it sends the key, then shows up here.</li>
      </ol>
      <div class="waiting" role="status" aria-live="polite">
        ${joined.length === 0
          ? html`<div><span class="spinner" aria-hidden="true"></span> Waiting for a new Pi to come online…</div>`
          : joined.map((d) => html`<div><span class="badge ok">Online</span> <a href=${href.device(d.serial)}>${d.serial}</a> joined.</div>`)}
      </div>
      <button type="button" class="secondary" onClick=${onAgain}>Add another Pi</button>
    </section>`;
}
