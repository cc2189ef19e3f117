// The 40-pin header with the pins the Pi's gpio.json allows, and a control for each: a switch for an
// output, the level of an input, a slider for PWM. What they show is the Pi's retained state, so every
// open window shows the same; a set only asks, and the Pi's answer (or refusal) updates them.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { GpioMode, ManifestPin } from '../../../../shared/schemas.js';
import { ago } from '../format.js';
import type { DeviceLive, LiveStore, PinLive } from '../live.js';
import { Empty, useNow } from '../ui.js';
import { HEADER, physicalPinOf, pinLabel } from './pin-header.js';

type Current = { mode: GpioMode; value: 0 | 1; pwm?: { duty: number; freqHz: number } | undefined };

const CAUSE: Record<string, string> = {
  initial: 'initial state', input: 'input changed', shutdown: 'safe state: pi-agent stopped', removed: 'no longer in gpio.json',
  'hold-expired': 'safe state: its hold time ran out', 'fail-safe': 'safe state: the hub was out of reach',
};

const MODE_LABEL: Record<GpioMode, string> = { in: 'Input', out: 'Output', pwm: 'PWM' };

function currentOf(pin: ManifestPin, live: PinLive | undefined): Current | null {
  return live?.state ?? pin.state ?? null;
}

export function Gpio({ d, live }: { d: DeviceLive; live: LiveStore }) {
  const pins = d.manifest?.gpio ?? [];
  if (!d.manifest) return html`<${Empty}>This Pi has not said what it allows yet.</${Empty}>`;
  if (pins.length === 0) return html`<${Empty}>This Pi offers no pins. Its owner lists them in <code>/etc/pi-agent/gpio.json</code>.</${Empty}>`;
  return html`
    <div class="gpio">
      <${HeaderDrawing} pins=${pins} d=${d} />
      <div class="pin-controls">
        ${pins.map((p) => html`<${PinControl} key=${p.bcm} pin=${p} d=${d} live=${live} />`)}
      </div>
    </div>`;
}

function HeaderDrawing({ pins, d }: { pins: ManifestPin[]; d: DeviceLive }) {
  const allowed = new Map(pins.map((p) => [p.bcm, p]));
  const cell = (i: number, side: 'l' | 'r') => {
    const hp = HEADER[i]!;
    const pin = hp.kind === 'gpio' ? allowed.get(hp.bcm) : undefined;
    const cur = pin ? currentOf(pin, d.pins.get(pin.bcm)) : null;
    const level = cur ? (cur.mode === 'pwm' ? 'pwm' : cur.value ? 'high' : 'low') : '';
    const label = html`<span class=${`hl hl-${side} ${pin ? 'allowed' : ''}`}>${pin ? html`<b>${pin.name}</b> ` : ''}<span class="muted">${pinLabel(hp)}</span></span>`;
    const dot = html`<span class=${`hp hp-${hp.kind} ${pin ? `allowed ${level}` : ''}`} title=${`pin ${hp.phys}`}>${hp.phys}</span>`;
    return side === 'l' ? html`${label}${dot}` : html`${dot}${label}`;
  };
  const summary = pins.map((p) => `${p.name}: GPIO${p.bcm}, pin ${physicalPinOf(p.bcm) ?? '?'}`).join('; ');
  return html`
    <div class="header-drawing" role="img" aria-label=${`The 40-pin header. Allowed pins: ${summary}`}>
      ${Array.from({ length: 20 }, (_, r) => html`<div class="hrow">${cell(2 * r, 'l')}${cell(2 * r + 1, 'r')}</div>`)}
    </div>`;
}

function defaultFreq(pin: ManifestPin, cur: Current | null): number {
  const f = cur?.pwm?.freqHz ?? 100;
  return pin.pwm ? Math.min(pin.pwm.maxHz, Math.max(pin.pwm.minHz, f)) : f;
}

function PinControl({ pin, d, live }: { pin: ManifestPin; d: DeviceLive; live: LiveStore }) {
  const now = useNow();
  const pl = d.pins.get(pin.bcm);
  const cur = currentOf(pin, pl);
  const name = `${pin.name} (GPIO${pin.bcm})`;
  const set = (s: Parameters<LiveStore['setPin']>[2]) => live.setPin(d.serial, pin.bcm, s);
  const state = pl?.state;
  const why = state ? (state.cause === 'set' || (!state.cause && state.by) ? `set by ${state.by ?? 'someone'}` : CAUSE[state.cause ?? ''] ?? '') : '';

  const changeMode = (mode: GpioMode) => {
    if (mode === 'out') set({ mode, value: 0 });
    else if (mode === 'pwm') set({ mode, pwm: { duty: 0, freqHz: defaultFreq(pin, cur) } });
    else set({ mode });
  };

  return html`
    <div class="pin" data-bcm=${pin.bcm} aria-busy=${pl?.pending ? 'true' : 'false'}>
      <div class="pin-head">
        <strong>${pin.name}</strong>
        <span class="muted small">GPIO${pin.bcm} · pin ${physicalPinOf(pin.bcm) ?? '?'}</span>
        ${pin.modes.length > 1
          ? html`<select class="small push" aria-label=${`${name} mode`} value=${cur?.mode ?? ''} onChange=${(e: Event) => changeMode((e.target as HTMLSelectElement).value as GpioMode)}>
              ${!cur && html`<option value="">—</option>`}
              ${pin.modes.map((m) => html`<option value=${m}>${MODE_LABEL[m]}</option>`)}</select>`
          : html`<span class="badge push">${MODE_LABEL[pin.modes[0]!]}</span>`}
      </div>
      <div class="pin-body">
        ${!cur && html`<span class="muted">state unknown</span>`}
        ${cur?.mode === 'out' && html`
          <button type="button" role="switch" class=${`switch ${cur.value ? 'on' : ''}`} aria-checked=${cur.value === 1 ? 'true' : 'false'} aria-label=${name}
            disabled=${!pin.modes.includes('out')} onClick=${() => set({ mode: 'out', value: cur.value ? 0 : 1 })}>
            <span class="knob" aria-hidden="true"></span><span class="switch-text">${cur.value ? 'On' : 'Off'}</span>
          </button>`}
        ${cur?.mode === 'in' && html`<span class=${`level ${cur.value ? 'high' : 'low'}`} role="status" aria-label=${`${name} level`}>${cur.value ? 'High' : 'Low'}</span>`}
        ${cur?.mode === 'pwm' && html`<${PwmControl} pin=${pin} name=${name} cur=${cur} pending=${!!pl?.pending} set=${set} />`}
      </div>
      <div class="pin-foot muted small">${[
        pl?.pending ? 'waiting for the Pi…' : state ? `${why}${why ? ', ' : ''}${ago(state.ts, now)}` : null,
        pin.holdSec !== undefined ? `returns to its safe value unless renewed within ${pin.holdSec} s` : null,
        pin.failSafe ? 'safe value when the hub is out of reach' : null,
      ].filter(Boolean).join(' · ')}</div>
      ${pl?.error && html`<p class="error small" role="alert">Refused: ${pl.error.message} (${pl.error.code})</p>`}
    </div>`;
}

/** While the thumb moves, sets go out at most every 150 ms; the last one on release. */
const PWM_SEND_MS = 150;

function PwmControl({ pin, name, cur, pending, set }: {
  pin: ManifestPin; name: string; cur: Current; pending: boolean; set: (s: { mode: 'pwm'; pwm: { duty: number; freqHz: number } }) => void;
}) {
  const [drag, setDrag] = useState<number | null>(null);
  const [freq, setFreq] = useState(defaultFreq(pin, cur));
  const lastSent = useRef(0);
  useEffect(() => { if (!pending && cur.pwm) setFreq(cur.pwm.freqHz); }, [cur.pwm?.freqHz]);
  const duty = drag ?? Math.round((cur.pwm?.duty ?? 0) * 100);
  const send = (pct: number, f = freq) => set({ mode: 'pwm', pwm: { duty: pct / 100, freqHz: f } });
  const onInput = (e: Event) => {
    const v = Number((e.target as HTMLInputElement).value);
    setDrag(v);
    if (Date.now() - lastSent.current > PWM_SEND_MS) { lastSent.current = Date.now(); send(v); }
  };
  const onChange = (e: Event) => { send(Number((e.target as HTMLInputElement).value)); setDrag(null); };
  return html`
    <div class="pwm">
      <input type="range" min="0" max="100" step="1" value=${duty} aria-label=${`${name} duty cycle`} aria-valuetext=${`${duty} %`}
        onInput=${onInput} onChange=${onChange} />
      <output aria-label=${`${name} duty`}>${duty} %</output>
      <label class="small">Hz
        <input type="number" class="freq" min=${pin.pwm?.minHz} max=${pin.pwm?.maxHz} step="any" value=${freq} aria-label=${`${name} frequency in hertz`}
          onChange=${(e: Event) => { const f = Number((e.target as HTMLInputElement).value); if (f > 0) { setFreq(f); send(duty, f); } }} />
      </label>
    </div>`;
}
