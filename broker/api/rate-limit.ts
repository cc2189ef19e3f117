// Token buckets keyed by client address or API key id: `burst` requests at once, then one every
// `refillMs`. Checked before any argon2 work, so a flood costs the hub almost nothing.

interface Bucket { tokens: number; at: number }

export class RateLimiter {
  /** In recency order: a bucket is moved to the end on each use, so the front is the least recently used. */
  private readonly buckets = new Map<string, Bucket>();
  /** How many buckets one eviction frees at least, so a flood of new keys scans the map once per batch, not per key. */
  private readonly slack: number;

  constructor(private readonly burst: number, private readonly refillMs: number, private readonly maxKeys = 10_000) {
    this.slack = Math.max(1, Math.ceil(maxKeys / 10));
  }

  /** Takes a token; returns 0 if allowed, else the milliseconds until the next one. */
  take(key: string, now = Date.now()): number {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
    } else {
      if (this.buckets.size >= this.maxKeys) this.evict(now);
      b = { tokens: this.burst, at: now };
    }
    this.buckets.set(key, b);
    const refill = Math.floor((now - b.at) / this.refillMs);
    if (refill > 0) {
      b.tokens = Math.min(this.burst, b.tokens + refill);
      b.at = b.tokens === this.burst ? now : b.at + refill * this.refillMs;
    }
    if (b.tokens > 0) {
      b.tokens--;
      return 0;
    }
    return this.refillMs - (now - b.at);
  }

  /** The milliseconds until `key` has a token (0: it has one now), without taking it. */
  wait(key: string, now = Date.now()): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.burst, b.tokens + Math.floor((now - b.at) / this.refillMs));
    return tokens > 0 ? 0 : this.refillMs - ((now - b.at) % this.refillMs);
  }

  /**
   * Makes room: first forgets the buckets that are full again (forgetting them changes nothing), then
   * the least recently used ones. Clearing them all instead would let anyone who rotates source
   * addresses reset everyone's limits (issue 7).
   */
  private evict(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + Math.floor((now - b.at) / this.refillMs) >= this.burst) this.buckets.delete(k);
    }
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= this.maxKeys - this.slack) break;
      this.buckets.delete(k);
    }
  }
}
