// What a pin may become, and what it becomes at start and when it goes safe (docs/ARCHITECTURE.md,
// "GPIO"). Pure: the service applies what these decide. A target is what the agent drives; an input's
// value is whatever the driver reads.
import type { GpioErrorCode, GpioMode, GpioSet } from '../../shared/schemas.js';
import type { LoadedPin } from '../modules/schema.js';
import type { FreqRange, Level } from './driver.js';

export type Target =
  | { mode: 'in' }
  | { mode: 'out'; value: Level }
  | { mode: 'pwm'; duty: number; freqHz: number };

export type SetCheck = { ok: true; target: Target } | { ok: false; code: GpioErrorCode; message: string };

/** A pin as the driver lets it be: its PWM range narrowed to what the driver can make (or gone). */
export interface EffectivePin { pin: LoadedPin; note: string | null }

export function effectivePin(pin: LoadedPin, driverRange: FreqRange): EffectivePin {
  if (!pin.pwm) return { pin, note: null };
  const minHz = Math.max(pin.pwm.minHz, driverRange.minHz);
  const maxHz = Math.min(pin.pwm.maxHz, driverRange.maxHz);
  if (minHz > maxHz) {
    const { pwm: _dropped, ...rest } = pin;
    const modes = pin.modes.filter((m) => m !== 'pwm');
    if (modes.length === 0) return { pin: { ...rest, modes: ['out'] }, note: `PWM ${pin.pwm.minHz}–${pin.pwm.maxHz} Hz is outside what the driver makes (${driverRange.minHz}–${driverRange.maxHz} Hz): the pin is offered as a plain output` };
    return { pin: { ...rest, modes }, note: `PWM ${pin.pwm.minHz}–${pin.pwm.maxHz} Hz is outside what the driver makes (${driverRange.minHz}–${driverRange.maxHz} Hz): PWM is not offered` };
  }
  if (minHz === pin.pwm.minHz && maxHz === pin.pwm.maxHz) return { pin, note: null };
  return { pin: { ...pin, pwm: { minHz, maxHz } }, note: `PWM narrowed to ${minHz}–${maxHz} Hz, what the driver makes` };
}

const hasOutput = (p: LoadedPin) => p.modes.includes('out') || p.modes.includes('pwm');

/** Driving `level`: as an output where the pin allows it, else as PWM at duty 0 or 1. */
export function levelTarget(p: LoadedPin, level: Level, current?: Target): Target {
  if (p.modes.includes('out') || !p.pwm) return { mode: 'out', value: level };
  return { mode: 'pwm', duty: level, freqHz: current?.mode === 'pwm' ? current.freqHz : p.pwm.minHz };
}

/** At start: outputs take `initial` (0 by default); a pin that declares "in" and no `initial` is an input. */
export function initialTarget(p: LoadedPin): Target {
  if (hasOutput(p) && (p.initial !== undefined || !p.modes.includes('in'))) return levelTarget(p, p.initial ?? 0);
  return { mode: 'in' };
}

/** SIGTERM, removal, hold expiry, fail-safe: `safe`, else what the pin started as. */
export function safeTarget(p: LoadedPin, current?: Target): Target {
  if (p.safe !== undefined) return levelTarget(p, p.safe, current);
  const initial = initialTarget(p);
  return initial.mode === 'pwm' && current?.mode === 'pwm' ? { ...initial, freqHz: current.freqHz } : initial;
}

export function sameTarget(a: Target, b: Target): boolean {
  if (a.mode !== b.mode) return false;
  if (a.mode === 'out' && b.mode === 'out') return a.value === b.value;
  if (a.mode === 'pwm' && b.mode === 'pwm') return a.duty === b.duty && a.freqHz === b.freqHz;
  return true;
}

const refuse = (code: GpioErrorCode, message: string): SetCheck => ({ ok: false, code, message });

/** A set checked against the pin's declared modes and ranges; a refusal changes nothing. */
export function checkSet(p: LoadedPin, set: GpioSet): SetCheck {
  if (set.mode === undefined && set.value === undefined && set.pwm === undefined) {
    return refuse('invalid_request', 'a set needs mode, value or pwm');
  }
  const mode: GpioMode = set.mode ?? (set.pwm !== undefined ? 'pwm' : set.value !== undefined ? 'out' : 'in');
  if (!p.modes.includes(mode)) {
    return refuse('mode_not_allowed', `pin ${p.bcm} (${p.name}) allows ${p.modes.join(', ')}; not ${mode}`);
  }
  switch (mode) {
    case 'in':
      if (set.value !== undefined || set.pwm !== undefined) return refuse('invalid_request', 'mode "in" takes neither value nor pwm');
      return { ok: true, target: { mode: 'in' } };
    case 'out':
      if (set.value === undefined) return refuse('invalid_request', 'mode "out" needs value 0 or 1');
      if (set.pwm !== undefined) return refuse('invalid_request', 'mode "out" takes no pwm');
      return { ok: true, target: { mode: 'out', value: set.value } };
    case 'pwm': {
      if (set.pwm === undefined) return refuse('invalid_request', 'mode "pwm" needs pwm: {duty, freqHz}');
      if (set.value !== undefined) return refuse('invalid_request', 'mode "pwm" takes no value: the duty says it');
      const range = p.pwm!; // modes include pwm only with a range (schema.ts, effectivePin)
      if (set.pwm.freqHz < range.minHz || set.pwm.freqHz > range.maxHz) {
        return refuse('out_of_range', `pin ${p.bcm} (${p.name}) takes ${range.minHz}–${range.maxHz} Hz; not ${set.pwm.freqHz}`);
      }
      return { ok: true, target: { mode: 'pwm', duty: set.pwm.duty, freqHz: set.pwm.freqHz } };
    }
  }
}

/** Whether a debounced change to `level` is published under the pin's `edge`. */
export function edgeWanted(edge: LoadedPin['edge'], level: Level): boolean {
  return edge === 'both' || (edge === 'rising' ? level === 1 : level === 0);
}

/** The parts of a pin's entry that decide how the hardware is set up; a change to one sets the pin up again. */
export function wiringOf(p: LoadedPin): string {
  return JSON.stringify([p.modes, p.pwm ?? null, p.pull, p.edge, p.debounceMs]);
}
