// Small pieces every page uses: hooks on the live store and the clock, a copy field, a modal dialog.
import { html } from 'htm/preact';
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { LiveStore } from './live.js';

/** Re-renders the calling view whenever the live store changed (at most once a frame). */
export function useLive(live: LiveStore): void {
  const [, tick] = useState(0);
  useEffect(() => live.watch(() => tick((n) => n + 1)), [live]);
}

/** The time, renewed every `everyMs`: "12 s ago" keeps counting. */
export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A value to paste elsewhere, with a button that copies it. */
export function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  const ref = useRef<HTMLElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      // No clipboard permission: select the text so Ctrl-C works.
      const range = document.createRange();
      if (ref.current) range.selectNodeContents(ref.current);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
    }
  };
  return html`
    <div class="copy">
      <span class="copy-label">${label}</span>
      <div class="copy-row">
        <code ref=${ref} aria-label=${label}>${value}</code>
        <button type="button" class="secondary" onClick=${copy} aria-label=${`Copy ${label}`}>${copied ? 'Copied' : 'Copy'}</button>
      </div>
    </div>`;
}

/** A modal dialog (the browser's own: focus stays inside, Escape closes it). */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useRef(`d${Math.random().toString(36).slice(2, 8)}`).current;
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    return () => d.close();
  }, []);
  return html`
    <dialog ref=${ref} aria-labelledby=${titleId} onClose=${onClose} onCancel=${(e: Event) => { e.preventDefault(); onClose(); }}>
      <h2 id=${titleId}>${title}</h2>
      ${children}
    </dialog>`;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return html`<p class="empty">${children}</p>`;
}
