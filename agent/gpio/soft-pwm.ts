// Software PWM for drivers without it in hardware (sysfs, sim): a worker thread (pwm-worker.ts) makes
// the edges, off the event loop, so MQTT, TLS and garbage collection do not shift them. The controller
// side: start, change and stop channels through shared memory, and read the worker's record of edges.
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import type { FreqRange, Level, PwmSink } from './driver.js';
import { CHANNELS, CTRL, allocShared, type PwmShared } from './pwm-shared.js';
import { BUNDLE } from '../../shared/bundle.js';

/**
 * node:worker_threads, loaded when the first channel starts: most Pis drive no PWM pin, and the module
 * costs the daemon about 0.3 MB (docs/BENCHMARKING.md). Synchronous, as starting a channel is.
 */
const requireBuiltin = createRequire(import.meta.url);
const workerThreads = () => requireBuiltin('node:worker_threads') as typeof import('node:worker_threads');

/**
 * What the software PWM offers (docs/ARCHITECTURE.md, "GPIO"): on average the frequency within 0.5 % and
 * the duty within 0.01 up to 1 kHz; above, single edges would jitter by a large share of the period.
 */
export const SOFT_PWM_RANGE: FreqRange = { minHz: 0.1, maxHz: 1000 };

export interface Edge { bcm: number; level: Level; t: number }

export class SoftPwm {
  private worker: Worker | null = null;
  private readonly shared: PwmShared;
  private readonly ctrl: Int32Array;
  private readonly params: Float64Array;
  private readonly active: Int32Array;
  private readIndex = 0;

  constructor(private readonly sink: PwmSink, private readonly onError: (bcm: number, message: string) => void, private readonly recordCapacity = 1 << 16) {
    this.shared = allocShared(recordCapacity);
    this.ctrl = new Int32Array(this.shared.ctrl);
    this.params = new Float64Array(this.shared.params);
    this.active = new Int32Array(this.shared.active);
  }

  /** Drives `bcm` at 0 < duty < 1 (the caller drives 0 and 1 as plain levels); the pin is an output already. */
  start(bcm: number, duty: number, freqHz: number): void {
    if (bcm < 0 || bcm >= CHANNELS) throw new Error(`no PWM channel for BCM ${bcm}`);
    this.params[bcm * 2] = duty;
    this.params[bcm * 2 + 1] = freqHz;
    Atomics.store(this.active, bcm, 1);
    this.ensureWorker();
    this.bump();
  }

  /** Stops `bcm` and returns once the worker no longer writes it, so the caller's next level is the last. */
  stop(bcm: number): void {
    if (Atomics.load(this.active, bcm) === 0) return;
    Atomics.store(this.active, bcm, 0);
    const gen = this.bump();
    const deadline = Date.now() + 1_000;
    for (;;) {
      const ack = Atomics.load(this.ctrl, CTRL.ACK);
      if (ack - gen >= 0 || !this.worker || Date.now() > deadline) return;
      Atomics.wait(this.ctrl, CTRL.ACK, ack, 50);
    }
  }

  running(bcm: number): boolean {
    return Atomics.load(this.active, bcm) === 1;
  }

  /** The edges recorded since the last call (at most the record's capacity: older ones are overwritten). */
  edges(): Edge[] {
    const end = Atomics.load(this.ctrl, CTRL.RECORDED);
    const times = new Float64Array(this.shared.times);
    const codes = new Int32Array(this.shared.codes);
    const out: Edge[] = [];
    for (let i = Math.max(this.readIndex, end - this.recordCapacity); i < end; i++) {
      const code = codes[i % this.recordCapacity]!;
      out.push({ bcm: code >> 1, level: (code & 1) as Level, t: times[i % this.recordCapacity]! });
    }
    this.readIndex = end;
    return out;
  }

  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    Atomics.store(this.ctrl, CTRL.STOP, 1);
    this.bump();
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    const timer = setTimeout(() => void w.terminate(), 1_000);
    await exited;
    clearTimeout(timer);
  }

  private bump(): number {
    const gen = Atomics.add(this.ctrl, CTRL.GEN, 1) + 1;
    Atomics.notify(this.ctrl, CTRL.GEN);
    return gen;
  }

  private ensureWorker(): void {
    if (this.worker) return;
    Atomics.store(this.ctrl, CTRL.STOP, 0);
    // Beside this file in dist/; beside the bundle in the package (a file of its own: a thread needs one).
    const w = new (workerThreads().Worker)(new URL(BUNDLE?.pwmWorker ?? './pwm-worker.js', import.meta.url), { workerData: { ...this.shared, sink: this.sink } });
    w.on('message', (m: { bcm: number; error: string }) => {
      Atomics.store(this.active, m.bcm, 0);
      this.onError(m.bcm, m.error);
    });
    w.on('error', (err) => this.onError(-1, err.message));
    w.unref();
    this.worker = w;
  }
}
