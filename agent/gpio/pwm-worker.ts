// The software PWM's worker thread: every channel on one absolute timeline (rises at t0 + k·period, falls
// a duty later), so the average frequency is exact and only single edges jitter. It sleeps in
// Atomics.wait to each next edge; how late each edge comes is paid back on the next fall (`excess`,
// below), so the duty is exact on average too. Measured figures: docs/ARCHITECTURE.md, "GPIO".
import { closeSync, openSync, writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { PwmSink } from './driver.js';
import { CHANNELS, CTRL, type PwmShared } from './pwm-shared.js';

const data = workerData as PwmShared & { sink: PwmSink };
const ctrl = new Int32Array(data.ctrl);
const params = new Float64Array(data.params);
const active = new Int32Array(data.active);
const times = new Float64Array(data.times);
const codes = new Int32Array(data.codes);
const ONE = Buffer.from('1');
const ZERO = Buffer.from('0');

interface Channel {
  bcm: number; duty: number; freqHz: number; t0: number; period: number; high: number;
  nextRise: number; nextFall: number; level: 0 | 1; fd: number | null;
  /** When the last rise was made; how much longer the pin was high than the duty asks, in all (ms); the next fall's move. */
  lastRise: number; excess: number; shift: number;
}

/**
 * Edges come late by the thread's wake-up latency, falls and rises unequally (a longer sleep wakes
 * later; a busy machine preempts the thread while the pin is high): the high time drifts from the duty.
 * Each fall is moved earlier by the high time the pin has had too much so far (later, if too little),
 * within its cycle: the error of all cycles together is then no more than the last one's, so the duty
 * is exact on average however late single edges come. A stall's debt is paid over the next cycles
 * (shorter pulses), up to two periods of it.
 */
const EDGE_GAP_MS = 0.001;

function afterFall(ch: Channel, t: number): void {
  ch.excess = Math.max(-2 * ch.period, Math.min(2 * ch.period, ch.excess + (t - ch.lastRise) - ch.high));
  // The next fall stays strictly inside its cycle: after its rise, before the next one.
  ch.shift = Math.max(EDGE_GAP_MS - ch.high, Math.min(ch.period - ch.high - EDGE_GAP_MS, -ch.excess));
}

const channels = new Map<number, Channel>();

function record(bcm: number, level: 0 | 1, t: number): void {
  const n = Atomics.load(ctrl, CTRL.RECORDED);
  times[n % times.length] = t;
  codes[n % codes.length] = bcm * 2 + level;
  Atomics.store(ctrl, CTRL.RECORDED, n + 1);
}

/** Sets the pin; returns when it was set (as recorded), NaN if it could not be. */
function drive(ch: Channel, level: 0 | 1): number {
  ch.level = level;
  const sink = data.sink;
  if (sink.kind === 'sysfs') {
    try {
      ch.fd ??= openSync(`${sink.root}/gpio${sink.base + ch.bcm}/value`, 'r+');
      writeSync(ch.fd, level ? ONE : ZERO, 0, 1, 0);
    } catch (err) {
      parentPort?.postMessage({ bcm: ch.bcm, error: (err as Error).message });
      stopChannel(ch.bcm);
      return Number.NaN;
    }
  }
  const t = performance.now();
  record(ch.bcm, level, t);
  return t;
}

function stopChannel(bcm: number): void {
  const ch = channels.get(bcm);
  if (ch?.fd != null) closeSync(ch.fd);
  channels.delete(bcm);
}

/** Applies what the controller wrote: new channels and new duty or frequency start a fresh cycle now. */
function reconfigure(): void {
  for (let bcm = 0; bcm < CHANNELS; bcm++) {
    const on = Atomics.load(active, bcm) === 1;
    const duty = params[bcm * 2]!;
    const freqHz = params[bcm * 2 + 1]!;
    const ch = channels.get(bcm);
    if (!on) { if (ch) stopChannel(bcm); continue; }
    if (ch && ch.duty === duty && ch.freqHz === freqHz) continue;
    const now = performance.now();
    const period = 1000 / freqHz;
    const next: Channel = { bcm, duty, freqHz, t0: now, period, high: duty * period, nextRise: now + period, nextFall: now + duty * period, level: 1, fd: ch?.fd ?? null, lastRise: now, excess: 0, shift: 0 };
    channels.set(bcm, next);
    next.lastRise = drive(next, 1);
  }
}

/**
 * After a stall of more than a period (the thread was not scheduled): the level the timeline says now,
 * and the next edges on it. The cycles missed are skipped, not made up in a burst, and the timeline
 * keeps its phase, so the frequency stays exact.
 */
function resync(ch: Channel, now: number): void {
  const start = ch.t0 + Math.floor((now - ch.t0) / ch.period) * ch.period;
  const high = now - start < ch.high;
  ch.nextRise = start + ch.period;
  ch.nextFall = high ? start + ch.high : start + ch.period + ch.high;
  // The cycles skipped are no one's debt: the account starts again (a fall in this cycle pays nothing).
  ch.excess = 0;
  ch.shift = 0;
  ch.lastRise = start;
  if (ch.level !== (high ? 1 : 0)) drive(ch, high ? 1 : 0);
}

/** Makes the edges that are due; returns when the next one is. */
function runDue(now: number): number {
  let next = Infinity;
  for (const ch of channels.values()) {
    if (now - Math.min(ch.nextRise, ch.nextFall) > ch.period) resync(ch, now);
    while (Math.min(ch.nextRise, ch.nextFall + ch.shift) <= now && channels.has(ch.bcm)) {
      if (ch.nextFall + ch.shift <= ch.nextRise) {
        const t = drive(ch, 0);
        ch.nextFall += ch.period;
        if (!Number.isNaN(t)) afterFall(ch, t);
      } else {
        const t = drive(ch, 1);
        if (!Number.isNaN(t)) ch.lastRise = t;
        ch.nextRise += ch.period;
      }
    }
    if (channels.has(ch.bcm)) next = Math.min(next, ch.nextRise, ch.nextFall + ch.shift);
  }
  return next;
}

// Nice -10 for this thread only (on Linux a nice value is per thread): other processes busy on the
// CPU then delay its edges far less. Only root may; otherwise it runs at the agent's priority.
try { setPriority(-10); } catch { /* not permitted */ }

let seen = -1;
for (;;) {
  const gen = Atomics.load(ctrl, CTRL.GEN);
  if (gen !== seen) {
    reconfigure();
    seen = gen;
    Atomics.store(ctrl, CTRL.ACK, gen);
    Atomics.notify(ctrl, CTRL.ACK);
  }
  if (Atomics.load(ctrl, CTRL.STOP) === 1) break;
  const next = runDue(performance.now());
  const wait = next - performance.now();
  if (wait > 0) Atomics.wait(ctrl, CTRL.GEN, gen, Number.isFinite(wait) ? wait : undefined);
}
for (const bcm of [...channels.keys()]) stopChannel(bcm);
