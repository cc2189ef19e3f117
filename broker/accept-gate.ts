// The hub's accept rate for new MQTT connections (docs/ARCHITECTURE.md, "Reconnect storms"): a token
// bucket of `perSecond` (as many at once), at most a quarter second's worth let in and not yet
// connected (CONNACK sent) at a time, and for each connection turned away a time to come back.
//
// The limit on those let in follows the hub's real pace: when it is slower than `perSecond` (a busy
// or small machine, a long garbage collection), fewer are let in, and none waits so long for its
// CONNACK that it gives up and comes back — which cost a handshake and a place for nothing (10,000 Pis
// after a restart: 28,000 such timeouts in 200 s, and the hub never caught up).
//
// Those times are handed out as a schedule, `perSecond` to each second after the last one given, so a
// storm of Pis turned away comes back at the rate the hub takes them, each once, instead of all of them
// retrying after the same few seconds: with 10,000 Pis and 200 a second, a Pi told "1 to 5 s" was
// turned away a dozen times, and each time cost the hub a TLS handshake. A Pi that arrives early or
// finds the second taken by newcomers is simply given a later time.

import { MAX_RETRY_AFTER_S } from '../shared/limits.js';

export type Admission = { ok: true } | { ok: false; retryAfterS: number };

export class AcceptGate {
  private tokens: number;
  private at: number;
  /** The second (since the epoch) the next connection turned away is told to come back in, and how many have it already. */
  private slot = 0;
  private inSlot = 0;
  /** Let in and not yet connected or gone. */
  private pending = 0;
  readonly maxPending: number;

  constructor(private readonly perSecond: number, now = Date.now()) {
    this.tokens = perSecond;
    this.at = now;
    this.maxPending = Math.max(4, Math.ceil(perSecond / 4));
  }

  /** A connection let in is connected, or gone: another may come in. */
  done(): void {
    if (this.pending > 0) this.pending--;
  }

  /** Whether a new connection may go on now; if so, call done() once it is connected or gone. */
  admit(now = Date.now()): Admission {
    if (this.pending >= this.maxPending) return this.defer(now);
    const refillMs = 1000 / this.perSecond;
    const refill = Math.floor((now - this.at) / refillMs);
    if (refill > 0) {
      this.tokens = Math.min(this.perSecond, this.tokens + refill);
      this.at = this.tokens === this.perSecond ? now : this.at + refill * refillMs;
    }
    if (this.tokens > 0) {
      this.tokens--;
      this.pending++;
      return { ok: true };
    }
    return this.defer(now);
  }

  private defer(now: number): Admission {
    // Whole seconds, the first a second from now at the earliest; each takes `perSecond`. A second once
    // given keeps its count until it is reached, so the schedule grows with the storm.
    const earliest = Math.ceil((now + 1000) / 1000);
    if (this.slot < earliest) { this.slot = earliest; this.inSlot = 0; }
    if (this.inSlot >= this.perSecond && this.slot < earliest + MAX_RETRY_AFTER_S - 1) { this.slot++; this.inSlot = 0; }
    this.inSlot++;
    return { ok: false, retryAfterS: Math.min(MAX_RETRY_AFTER_S, Math.ceil((this.slot * 1000 - now) / 1000)) };
  }
}
