// The GPIO service: the pins gpio.json lists, driven through one driver (docs/ARCHITECTURE.md, "GPIO").
// Sets are checked (pins.ts) and applied one at a time; every change is a retained state with its cause;
// a refusal changes nothing and is answered, not retained. Safe states: outputs take `initial` at start,
// `safe` at stop, on removal, when `holdSec` runs out and, for failSafe pins, when the hub link has been
// down `failSafeSec`. Publishing is the caller's (the part publishes only while the link is up and
// republishes every state when it comes back).
import type { Logger } from '../../shared/log.js';
import { parseJson } from '../../shared/json.js';
import { requestIdOf } from '../../shared/results.js';
import {
  type GpioCause, type GpioErrorCode, type GpioPinState, type GpioState, GpioSetSchema, type ManifestPin,
} from '../../shared/schemas.js';
import type { LoadedPin } from '../modules/schema.js';
import type { GpioDriver, Level } from './driver.js';
import { type Target, checkSet, edgeWanted, effectivePin, initialTarget, safeTarget, sameTarget, wiringOf } from './pins.js';
import { SOFT_PWM_RANGE, type SoftPwm } from './soft-pwm.js';

/** The last state published for a pin (without `v`). */
export type PinRecord = Omit<GpioPinState, 'v' | 'error'>;

interface Runtime {
  pin: LoadedPin;
  target: Target;
  record: PinRecord;
  /** An input's debounced level (published or not, by `edge`) and its latest raw level. */
  stable: Level;
  raw: Level;
  hold: NodeJS.Timeout | null;
  debounce: NodeJS.Timeout | null;
  /** Bumped whenever the pin is driven anew, so a callback of an older wiring is ignored. */
  wiring: number;
}

export interface GpioServiceOptions {
  driver: GpioDriver | null;
  /** Why there is no driver (logged once at start by the caller). */
  unavailable?: string;
  softPwm: SoftPwm | null;
  log: Logger;
  failSafeSec: number;
  publish(bcm: number, state: GpioState, retain: boolean): Promise<void> | void;
  /** Called after every change (the state file for `pi-agent gpio`). */
  changed?(): void;
}

export class GpioService {
  private readonly pins = new Map<number, Runtime>();
  private queue: Promise<unknown> = Promise.resolve();
  private linkUp = false;
  private failTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private wirings = 0;

  constructor(private readonly o: GpioServiceOptions) {}

  get driverName(): string | null { return this.o.driver?.name ?? null; }

  /** Sets the pins up (outputs at `initial`) and starts the fail-safe clock: the link is not up yet. */
  start(pins: readonly LoadedPin[]): Promise<void> {
    this.setLink(false);
    return this.apply(pins);
  }

  setFailSafeSec(sec: number): void {
    this.o.failSafeSec = sec;
  }

  /** gpio.json changed: removed pins go safe and are let go, new ones take `initial`, rewired ones start again. */
  apply(pins: readonly LoadedPin[]): Promise<void> {
    return this.enqueue(async () => {
      const driver = this.o.driver;
      if (!driver || this.stopping) return;
      const next = new Map<number, { pin: LoadedPin; note: string | null }>();
      for (const p of pins) next.set(p.bcm, effectivePin(p, driver.hardwarePwm(p.bcm) ?? SOFT_PWM_RANGE));
      for (const [bcm, rt] of [...this.pins]) {
        if (next.has(bcm)) continue;
        await this.goSafe(rt, 'removed');
        await this.letGo(rt);
      }
      for (const [bcm, { pin, note }] of next) {
        const rt = this.pins.get(bcm);
        if (rt && wiringOf(rt.pin) === wiringOf(pin)) {
          rt.pin = pin;
          if (pin.holdSec === undefined) this.clearHold(rt);
          continue;
        }
        if (rt) await this.letGo(rt);
        if (note) this.o.log.info(`pin ${bcm} (${pin.name}): ${note}`);
        await this.setUp(pin);
      }
      this.o.changed?.();
    });
  }

  /** A message on gpio/<bcm>/set (already stamped with `by` by the hub). */
  handleSet(bcm: number, payload: Buffer): Promise<void> {
    return this.enqueue(async () => {
      const raw = parseJson(payload);
      const parsed = GpioSetSchema.safeParse(raw);
      const rt = this.pins.get(bcm);
      if (!parsed.success) return this.refuse(bcm, rt, requestIdOf(raw), 'invalid_request', parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
      const set = parsed.data;
      if (!this.o.driver) return this.refuse(bcm, undefined, set.id, 'gpio_unavailable', `no GPIO on this Pi: ${this.o.unavailable ?? 'no driver'}`);
      if (!rt) return this.refuse(bcm, undefined, set.id, 'unknown_pin', `pin ${bcm} is not in this Pi's gpio.json`);
      if (this.stopping) return this.refuse(bcm, rt, set.id, 'gpio_unavailable', 'the agent is stopping');
      const check = checkSet(rt.pin, set);
      if (!check.ok) return this.refuse(bcm, rt, set.id, check.code, check.message);
      try {
        await this.drive(rt, check.target);
      } catch (err) {
        this.o.log.error(`pin ${bcm} (${rt.pin.name}): the driver failed`, { error: (err as Error).message });
        return this.refuse(bcm, rt, set.id, 'driver_error', (err as Error).message);
      }
      this.record(rt, 'set', { by: set.by, id: set.id });
      this.clearHold(rt);
      const holdSec = rt.pin.holdSec;
      if (holdSec !== undefined && !sameTarget(rt.target, safeTarget(rt.pin, rt.target))) {
        rt.hold = setTimeout(() => void this.enqueue(() => this.goSafe(rt, 'hold-expired')), holdSec * 1000);
      }
    });
  }

  /** The hub link went up or down: fail-safe pins go safe once it has been down `failSafeSec`. */
  setLink(up: boolean): void {
    this.linkUp = up;
    if (up) {
      if (this.failTimer) clearTimeout(this.failTimer);
      this.failTimer = null;
      return;
    }
    if (this.failTimer || this.stopping) return;
    this.failTimer = setTimeout(() => {
      this.failTimer = null;
      if (this.linkUp) return;
      const pins = [...this.pins.values()].filter((rt) => rt.pin.failSafe);
      if (pins.length > 0) this.o.log.warn(`the hub link has been down for ${this.o.failSafeSec} s: fail-safe pins go to their safe levels`, { pins: pins.map((rt) => rt.pin.bcm).join(',') });
      for (const rt of pins) void this.enqueue(() => this.goSafe(rt, 'fail-safe'));
    }, this.o.failSafeSec * 1000);
  }

  /** Every pin's state, retained (the link is back: the hub may have forgotten them, or missed changes). */
  republish(): void {
    for (const [bcm, rt] of this.pins) void this.o.publish(bcm, { v: 1, ...rt.record }, true);
  }

  /** SIGTERM: outputs to their safe levels (published while the link is still up), then the driver closes. */
  async stop(): Promise<void> {
    const published: Array<Promise<void> | void> = [];
    const publish = this.o.publish;
    this.o.publish = (bcm, s, r) => { const p = publish(bcm, s, r); published.push(p); return p; };
    await this.enqueue(async () => {
      this.stopping = true;
      if (this.failTimer) clearTimeout(this.failTimer);
      this.failTimer = null;
      for (const rt of this.pins.values()) await this.goSafe(rt, 'shutdown');
      for (const rt of [...this.pins.values()]) await this.letGo(rt);
      await this.o.softPwm?.close();
      await this.o.driver?.close();
      this.o.changed?.();
    });
    await Promise.race([Promise.allSettled(published), new Promise((r) => setTimeout(r, 3_000).unref())]);
  }

  manifest(): ManifestPin[] {
    return [...this.pins.values()].sort((a, b) => a.pin.bcm - b.pin.bcm).map(({ pin, record }) => ({
      bcm: pin.bcm, name: pin.name, modes: [...pin.modes],
      ...(pin.pwm ? { pwm: { ...pin.pwm } } : {}),
      ...(pin.holdSec !== undefined ? { holdSec: pin.holdSec } : {}),
      ...(pin.failSafe ? { failSafe: true } : {}),
      state: { mode: record.mode, value: record.value, ...(record.pwm ? { pwm: record.pwm } : {}) },
    }));
  }

  /** Each pin with its last state, for the state file. */
  records(): Array<{ pin: LoadedPin; record: PinRecord }> {
    return [...this.pins.values()].sort((a, b) => a.pin.bcm - b.pin.bcm).map(({ pin, record }) => ({ pin, record }));
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job);
    this.queue = run.catch((err: Error) => this.o.log.error('GPIO: unexpected failure', { error: err.message }));
    return run;
  }

  private async setUp(pin: LoadedPin): Promise<void> {
    const target = initialTarget(pin);
    const rt: Runtime = { pin, target, record: { mode: 'in', value: 0, ts: Date.now() }, stable: 0, raw: 0, hold: null, debounce: null, wiring: 0 };
    try {
      await this.drive(rt, target);
    } catch (err) {
      this.o.log.error(`pin ${pin.bcm} (${pin.name}) could not be set up; it is not offered`, { error: (err as Error).message });
      return;
    }
    this.pins.set(pin.bcm, rt);
    this.record(rt, 'initial');
  }

  /** Drives the target; throws what the driver throws (the pin's record is left as it was). */
  private async drive(rt: Runtime, target: Target): Promise<void> {
    const { driver, softPwm } = this.o;
    const bcm = rt.pin.bcm;
    const wiring = ++this.wirings;
    rt.wiring = wiring;
    if (target.mode === 'pwm' && target.duty > 0 && target.duty < 1 && softPwm?.running(bcm)) {
      softPwm.start(bcm, target.duty, target.freqHz); // a new duty or frequency: no stop, so no glitch
      rt.target = target;
      return;
    }
    softPwm?.stop(bcm);
    if (rt.debounce) clearTimeout(rt.debounce);
    rt.debounce = null;
    switch (target.mode) {
      case 'out':
        await driver!.output(bcm, target.value);
        break;
      case 'pwm': {
        if (driver!.hardwarePwm(bcm)) {
          target = { ...target, freqHz: await driver!.pwm(bcm, target.duty, target.freqHz) };
        } else {
          await driver!.output(bcm, target.duty > 0 ? 1 : 0);
          if (target.duty > 0 && target.duty < 1) softPwm!.start(bcm, target.duty, target.freqHz);
        }
        break;
      }
      case 'in': {
        const level = await driver!.input(bcm, { pull: rt.pin.pull, onChange: (l) => this.onRaw(rt, wiring, l) });
        rt.stable = level;
        rt.raw = level;
        break;
      }
    }
    rt.target = target;
  }

  private onRaw(rt: Runtime, wiring: number, level: Level): void {
    if (rt.wiring !== wiring || this.pins.get(rt.pin.bcm) !== rt) return;
    rt.raw = level;
    if (rt.debounce) clearTimeout(rt.debounce);
    rt.debounce = null;
    if (rt.pin.debounceMs === 0) this.settle(rt);
    else rt.debounce = setTimeout(() => this.settle(rt), rt.pin.debounceMs);
  }

  /** The input held its level for debounceMs: one state per debounced edge (of the pin's `edge`). */
  private settle(rt: Runtime): void {
    rt.debounce = null;
    if (rt.raw === rt.stable || this.stopping) return;
    rt.stable = rt.raw;
    if (edgeWanted(rt.pin.edge, rt.stable)) this.record(rt, 'input');
  }

  private async goSafe(rt: Runtime, cause: GpioCause): Promise<void> {
    this.clearHold(rt);
    const target = safeTarget(rt.pin, rt.target);
    if (sameTarget(target, rt.target)) return;
    try {
      await this.drive(rt, target);
    } catch (err) {
      this.o.log.error(`pin ${rt.pin.bcm} (${rt.pin.name}): could not go to its safe level`, { cause, error: (err as Error).message });
      return;
    }
    this.o.log.info(`pin ${rt.pin.bcm} (${rt.pin.name}) is at its safe level`, { cause, ...describe(rt.target) });
    this.record(rt, cause);
  }

  private async letGo(rt: Runtime): Promise<void> {
    this.clearHold(rt);
    if (rt.debounce) clearTimeout(rt.debounce);
    rt.wiring = ++this.wirings;
    this.o.softPwm?.stop(rt.pin.bcm);
    this.pins.delete(rt.pin.bcm);
    await this.o.driver?.release(rt.pin.bcm).catch((err: Error) => this.o.log.warn(`pin ${rt.pin.bcm}: release failed`, { error: err.message }));
  }

  private clearHold(rt: Runtime): void {
    if (rt.hold) clearTimeout(rt.hold);
    rt.hold = null;
  }

  /** The pin's new state: kept, published retained, and the state file updated. */
  private record(rt: Runtime, cause: GpioCause, from: { by?: string; id?: string } = {}): void {
    const t = rt.target;
    rt.record = {
      mode: t.mode,
      value: t.mode === 'out' ? t.value : t.mode === 'pwm' ? (t.duty > 0 ? 1 : 0) : rt.stable,
      ...(t.mode === 'pwm' ? { pwm: { duty: t.duty, freqHz: t.freqHz } } : {}),
      ts: Date.now(),
      cause,
      ...(from.by !== undefined ? { by: from.by } : {}),
      ...(from.id !== undefined ? { id: from.id } : {}),
    };
    void this.o.publish(rt.pin.bcm, { v: 1, ...rt.record }, true);
    if (!this.stopping) this.o.changed?.();
  }

  private refuse(bcm: number, rt: Runtime | undefined, id: string | null | undefined, code: GpioErrorCode, message: string): void {
    const error = { code, message: message.slice(0, 300) };
    const idPart = id ? { id } : {};
    const state: GpioState = rt
      ? { v: 1, mode: rt.record.mode, value: rt.record.value, ...(rt.record.pwm ? { pwm: rt.record.pwm } : {}), ts: Date.now(), ...idPart, error }
      : { v: 1, ts: Date.now(), ...idPart, error };
    this.o.log.info(`pin ${bcm}: set refused`, { code, reason: error.message, id: id ?? null });
    void this.o.publish(bcm, state, false);
  }
}

function describe(t: Target): Record<string, string | number> {
  if (t.mode === 'out') return { mode: 'out', value: t.value };
  if (t.mode === 'pwm') return { mode: 'pwm', duty: t.duty, freqHz: t.freqHz };
  return { mode: 'in' };
}
