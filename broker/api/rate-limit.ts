// Token buckets keyed by client address or API key id: `burst` requests at once, then one every
// `refillMs`. Checked before any argon2 work, so a flood costs the hub almost nothing.

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly burst: number, private readonly refillMs: number, private readonly maxKeys = 10_000) {}

  /** Takes a token; returns 0 if allowed, else the milliseconds until the next one. */
  take(key: string, now = Date.now()): number {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
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

  private prune(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + Math.floor((now - b.at) / this.refillMs) >= this.burst) this.buckets.delete(k);
    }
    if (this.buckets.size >= this.maxKeys) this.buckets.clear(); // under attack: forget rather than grow
  }
}
