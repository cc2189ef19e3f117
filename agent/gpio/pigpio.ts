// The pigpio driver (Pi 1–4): hardware PWM on BCM 12, 13, 18 and 19 (12/18 share one channel, 13/19
// the other), pigpio's DMA-timed PWM on the other pins (at its fixed frequencies, 10–8000 Hz with the
// default 5 µs sampling: the nearest is used and reported). pigpio is an optional dependency, loaded
// only when chosen; it needs root and refuses to run on a Pi 5 (select.ts never chooses it there).
import type { FreqRange, GpioDriver, InputWatch, Level, Pull, PwmSink } from './driver.js';

/** The part of the pigpio package's API this driver uses. */
interface PigpioGpio {
  mode(mode: number): void;
  pullUpDown(pud: number): void;
  digitalRead(): number;
  digitalWrite(level: number): void;
  hardwarePwmWrite(frequency: number, dutyCycle: number): void;
  pwmFrequency(frequency: number): void;
  getPwmFrequency(): number;
  pwmRange(range: number): void;
  pwmWrite(dutyCycle: number): void;
  glitchFilter(steadyUs: number): void;
  enableAlert(): void;
  disableAlert(): void;
  on(event: 'alert', cb: (level: number, tick: number) => void): void;
  removeAllListeners(event: 'alert'): void;
}
interface PigpioGpioClass {
  new (bcm: number, options?: { mode?: number }): PigpioGpio;
  readonly INPUT: number;
  readonly OUTPUT: number;
  readonly PUD_OFF: number;
  readonly PUD_DOWN: number;
  readonly PUD_UP: number;
}
export interface PigpioModule { Gpio: PigpioGpioClass; initialize(): void; terminate(): void }

const HARDWARE_PWM_PINS = new Set([12, 13, 18, 19]);
const HARDWARE_RANGE: FreqRange = { minHz: 1, maxHz: 100_000 };
const DMA_RANGE: FreqRange = { minHz: 10, maxHz: 8000 };
const PWM_STEPS = 1000;

/** Loads the optional package; a clear reason when it is not installed or cannot load. */
export async function loadPigpio(): Promise<{ ok: true; module: PigpioModule } | { ok: false; reason: string }> {
  const name = 'pigpio'; // a variable, so the compiler does not look for a package that may be absent
  try {
    const mod = (await import(name)) as { default?: PigpioModule } & Partial<PigpioModule>;
    const m = (mod.default ?? mod) as PigpioModule;
    if (typeof m.Gpio !== 'function') return { ok: false, reason: 'the pigpio package has no Gpio class' };
    return { ok: true, module: m };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ERR_MODULE_NOT_FOUND' ? 'not installed (npm install pigpio; it needs the pigpio C library)' : `cannot load: ${(err as Error).message}` };
  }
}

export class PigpioDriver implements GpioDriver {
  readonly name = 'pigpio' as const;
  readonly pwmSink: PwmSink = { kind: 'record' }; // never used: every pin has PWM in pigpio
  private readonly pins = new Map<number, PigpioGpio>();

  constructor(private readonly lib: PigpioModule) {}

  /** Starts the pigpio library (fails when another process, e.g. pigpiod, holds it). */
  open(): void {
    this.lib.initialize();
  }

  async output(bcm: number, level: Level): Promise<void> {
    const g = this.gpio(bcm);
    g.disableAlert();
    g.removeAllListeners('alert');
    g.mode(this.lib.Gpio.OUTPUT);
    g.digitalWrite(level);
  }

  async input(bcm: number, watch: InputWatch): Promise<Level> {
    const g = this.gpio(bcm);
    const G = this.lib.Gpio;
    g.mode(G.INPUT);
    g.pullUpDown(({ up: G.PUD_UP, down: G.PUD_DOWN, none: G.PUD_OFF } satisfies Record<Pull, number>)[watch.pull]);
    g.removeAllListeners('alert');
    g.on('alert', (level) => watch.onChange(level ? 1 : 0));
    g.enableAlert();
    return g.digitalRead() ? 1 : 0;
  }

  hardwarePwm(bcm: number): FreqRange | null {
    return HARDWARE_PWM_PINS.has(bcm) ? HARDWARE_RANGE : DMA_RANGE;
  }

  async pwm(bcm: number, duty: number, freqHz: number): Promise<number> {
    const g = this.gpio(bcm);
    g.disableAlert();
    g.mode(this.lib.Gpio.OUTPUT);
    if (HARDWARE_PWM_PINS.has(bcm)) {
      g.hardwarePwmWrite(Math.round(freqHz), Math.round(duty * 1_000_000));
      return Math.round(freqHz);
    }
    g.pwmFrequency(Math.round(freqHz));
    g.pwmRange(PWM_STEPS);
    g.pwmWrite(Math.round(duty * PWM_STEPS));
    return g.getPwmFrequency();
  }

  async release(bcm: number): Promise<void> {
    const g = this.pins.get(bcm);
    if (!g) return;
    g.disableAlert();
    g.removeAllListeners('alert');
    this.pins.delete(bcm);
  }

  async close(): Promise<void> {
    for (const bcm of [...this.pins.keys()]) await this.release(bcm);
    // Not terminate(): the pins keep the safe levels the service left them at; the library ends with the process.
  }

  private gpio(bcm: number): PigpioGpio {
    let g = this.pins.get(bcm);
    if (!g) {
      g = new this.lib.Gpio(bcm);
      this.pins.set(bcm, g);
    }
    return g;
  }
}
