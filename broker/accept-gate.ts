// The hub's accept rate for new MQTT connections (docs/ARCHITECTURE.md, "Reconnect storms"): a token
// bucket of `perSecond` (as many at once), at most a quarter second's worth let in and not yet
// connected (CONNACK sent) at a time, a waiting room for the next few seconds' worth, and for each
// connection turned away a time to come back.
//
// The limit on those let in follows the hub's real pace: when it is slower than `perSecond` (a busy
// or small machine, a long garbage collection), fewer are let in, and none waits so long for its
// CONNACK that it gives up and comes back — which cost a handshake and a place for nothing (10,000 Pis
// after a restart: 28,000 such timeouts in 200 s, and the hub never caught up). What the places bound is
// the hub's own work in flight: a connection whose CONNECT has not arrived `connectGraceMs` after it was
// let in stops counting until it does. A slow client (a busy or far-away Pi) costs the hub nothing
// meanwhile, and counted until it connected, a hundred of them held every place and the gate's pace
// collapsed (a 10,000-Pi restart: 19 back after 41 s, then 699 CONNACK timeouts).
//
// A connection that finds no place waits its turn, oldest first, rather than being turned away: it has
// paid its TLS handshake already, and turning it away costs it and the hub another one when it comes
// back (3,000 Pis after a restart: about one 503 each). The room holds `waitingSeconds` of the rate (5 s),
// and none waits longer than `maxWaitMs` (10 s), inside the agent's 30 s for its CONNACK with room for
// the handshake before (seconds in a storm's first wave) and the session's restore after: with 8 s and
// 15 s, 182 of 10,000 Pis gave up waiting for their CONNACK in a restart. A waiting connection costs the hub what a
// connected one does (its TLS socket), which `maxConnections` already provides for.
//
// Beyond the room, connections are turned away with a time to come back, handed out as a schedule:
// `perSecond` to each second after the last one given (and after the room has emptied), so a storm of
// Pis turned away comes back at the rate the hub takes them, each once, instead of all of them retrying
// after the same few seconds: with 10,000 Pis and 200 a second, a Pi told "1 to 5 s" was turned away a
// dozen times, and each time cost the hub a TLS handshake.

import { MAX_RETRY_AFTER_S } from '../shared/limits.js';

/** What a connection let in tells the gate; each at most once, later calls do nothing. */
export interface Pass {
  /** Its CONNECT arrived: it counts until done(), however long that takes. */
  connecting(): void;
  /** It is connected (CONNACK sent) or gone: another may come in. */
  done(): void;
}

/** A new connection at the gate. */
export interface Arrival {
  /** Its turn: go on, and report through `pass`. */
  go(pass: Pass): void;
  /** Turned away: to come back in `retryAfterS` seconds. */
  away(retryAfterS: number): void;
}

export interface GateOptions {
  /** Seconds of the rate the waiting room holds (0: none, every connection without a place is turned away). */
  waitingSeconds?: number;
  /** The longest a connection waits its turn before it is turned away. */
  maxWaitMs?: number;
  /** The clock (tests move their own). */
  clock?: () => number;
  /** How long one let in counts before its CONNECT arrives. */
  connectGraceMs?: number;
  /** Whether the gate keeps time with timers: lets the waiting in, ends a CONNECT's grace (tests call pump()). */
  timer?: boolean;
}

interface Waiter { a: Arrival; since: number; gone: boolean }

export const DEFAULT_WAITING_SECONDS = 5;
export const DEFAULT_MAX_WAIT_MS = 10_000;
export const DEFAULT_CONNECT_GRACE_MS = 1000;

export class AcceptGate {
  private tokens: number;
  private at: number;
  /** The second (since the epoch) the next connection turned away is told to come back in, and how many have it already. */
  private slot = 0;
  private inSlot = 0;
  /** Let in and not yet connected or gone. */
  private pending = 0;
  readonly maxPending: number;
  /** The waiting room, oldest first from `head`; entries of connections gone meanwhile stay until reached. */
  private queue: Waiter[] = [];
  private head = 0;
  private waitingNow = 0;
  readonly maxWaiting: number;
  private readonly maxWaitMs: number;
  private readonly connectGraceMs: number;
  private readonly clock: () => number;
  private readonly useTimer: boolean;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly perSecond: number, o: GateOptions = {}) {
    this.clock = o.clock ?? Date.now;
    this.tokens = perSecond;
    this.at = this.clock();
    this.maxPending = Math.max(4, Math.ceil(perSecond / 4));
    this.maxWaiting = Math.ceil(perSecond * (o.waitingSeconds ?? DEFAULT_WAITING_SECONDS));
    this.maxWaitMs = o.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.connectGraceMs = o.connectGraceMs ?? DEFAULT_CONNECT_GRACE_MS;
    this.useTimer = o.timer ?? true;
  }

  /** Connections waiting their turn. */
  get waiting(): number { return this.waitingNow; }

  /**
   * A new connection: let in now (`go` called before this returns), kept waiting (`go` or `away` called
   * later), or turned away (`away` called before this returns). Returns what to call if the connection
   * goes away while it waits (a no-op otherwise).
   */
  enter(a: Arrival): () => void {
    const now = this.clock();
    if (this.closed) { a.away(1); return noop; }
    if (this.waitingNow === 0 && this.take(now)) { a.go(this.pass()); return noop; }
    if (this.waitingNow >= this.maxWaiting) { a.away(this.defer(now)); return noop; }
    const w: Waiter = { a, since: now, gone: false };
    this.queue.push(w);
    this.waitingNow++;
    this.arm();
    return () => {
      if (w.gone) return;
      w.gone = true;
      this.waitingNow--;
    };
  }

  /** A place for one just let in, given back once: connected, gone, or its CONNECT's grace over. */
  private pass(): Pass {
    let open = true;
    // Dropped once cleared: a connection keeps its pass for its lifetime, not a timer object.
    let grace: NodeJS.Timeout | null = null;
    const connecting = () => { if (grace) { clearTimeout(grace); grace = null; } };
    const done = () => {
      if (!open) return;
      open = false;
      connecting();
      this.pending--;
      if (this.waitingNow > 0) this.pump();
    };
    if (this.useTimer) {
      grace = setTimeout(done, this.connectGraceMs);
      grace.unref();
    }
    return { connecting, done };
  }

  /** Lets in the waiting, oldest first, as far as tokens and places allow; turns away those waiting too long. */
  pump(now = this.clock()): void {
    while (this.head < this.queue.length) {
      const w = this.queue[this.head]!;
      if (w.gone) { this.head++; continue; }
      if (now - w.since > this.maxWaitMs) {
        this.shift(w);
        w.a.away(this.defer(now));
        continue;
      }
      if (!this.take(now)) break;
      this.shift(w);
      w.a.go(this.pass());
    }
    if (this.head === this.queue.length) { this.queue = []; this.head = 0; }
    else if (this.head > 1024 && this.head * 2 > this.queue.length) { this.queue = this.queue.slice(this.head); this.head = 0; }
    if (this.waitingNow > 0) this.arm();
  }

  /** Stops: every connection still waiting is turned away (to come back to the hub's next run). */
  close(): void {
    this.closed = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const waiting = this.queue.slice(this.head).filter((w) => !w.gone);
    this.queue = [];
    this.head = 0;
    this.waitingNow = 0;
    for (const w of waiting) { w.gone = true; w.a.away(1); }
  }

  private shift(w: Waiter): void {
    this.head++;
    w.gone = true;
    this.waitingNow--;
  }

  /** The next token's time, or a place freed by done(), lets the next one in. */
  private arm(): void {
    if (!this.useTimer || this.timer || this.closed) return;
    this.timer = setTimeout(() => { this.timer = null; this.pump(); }, Math.max(1, Math.ceil(1000 / this.perSecond)));
    this.timer.unref();
  }

  /** A token and a place for one more let in, if there are both. */
  private take(now: number): boolean {
    if (this.pending >= this.maxPending) return false;
    const refillMs = 1000 / this.perSecond;
    const refill = Math.floor((now - this.at) / refillMs);
    if (refill > 0) {
      this.tokens = Math.min(this.perSecond, this.tokens + refill);
      this.at = this.tokens === this.perSecond ? now : this.at + refill * refillMs;
    }
    if (this.tokens <= 0) return false;
    this.tokens--;
    this.pending++;
    return true;
  }

  private defer(now: number): number {
    // Whole seconds, the first a second from now at the earliest, and not before the waiting room has
    // emptied at the rate; each second takes `perSecond`. A second once given keeps its count until it
    // is reached, so the schedule grows with the storm.
    const earliest = Math.ceil((now + 1000 + (this.waitingNow * 1000) / this.perSecond) / 1000);
    if (this.slot < earliest) { this.slot = earliest; this.inSlot = 0; }
    if (this.inSlot >= this.perSecond && this.slot < earliest + MAX_RETRY_AFTER_S - 1) { this.slot++; this.inSlot = 0; }
    this.inSlot++;
    return Math.min(MAX_RETRY_AFTER_S, Math.ceil((this.slot * 1000 - now) / 1000));
  }
}

function noop(): void {}
