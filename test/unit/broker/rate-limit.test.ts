// Token buckets (broker/api/rate-limit.ts), on an explicit clock: each row a step and its outcome.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter } from '../../../broker/api/rate-limit.js';

type Step = [key: string, now: number, wait: number];

function play(limiter: RateLimiter, steps: Step[]): void {
  steps.forEach(([key, now, wait], i) => assert.equal(limiter.take(key, now), wait, `step ${i}: take(${key}, ${now})`));
}

describe('RateLimiter', () => {
  it('allows a burst, then one per refill interval, and says how long to wait', () => {
    play(new RateLimiter(3, 1000), [
      ['a', 0, 0], ['a', 0, 0], ['a', 0, 0], // the burst
      ['a', 0, 1000], // empty: wait a whole interval
      ['a', 400, 600], // …less as time passes
      ['a', 999, 1],
      ['a', 1000, 0], // one token back
      ['a', 1000, 1000],
      ['a', 2500, 0], // one more; the half interval is kept…
      ['a', 2500, 500], // …so the next comes at 3000, not 3500
      ['a', 3000, 0],
    ]);
  });

  it('keeps one bucket per key', () => {
    play(new RateLimiter(1, 1000), [
      ['a', 0, 0], ['a', 0, 1000],
      ['b', 0, 0], ['b', 10, 990],
      ['a', 10, 990],
    ]);
  });

  it('refills up to the burst and no further', () => {
    play(new RateLimiter(2, 100), [
      ['a', 0, 0], ['a', 0, 0], ['a', 0, 100],
      ['a', 10_000, 0], ['a', 10_000, 0], ['a', 10_000, 100], // a long pause gives back 2, not 100
    ]);
  });

  it('forgets full buckets, not busy ones, when it holds too many keys', () => {
    const limiter = new RateLimiter(1, 1000, 2);
    play(limiter, [
      ['idle', 0, 0], // empty at 0, full again from 1000
      ['busy', 4500, 0], // empty until 5500
      ['new', 5000, 0], // no room: the full bucket (idle) goes, the busy one stays
      ['busy', 5000, 500], // still empty: it was not forgotten
    ]);
  });

  it('forgets the least recently used busy bucket when every bucket is busy (a flood of addresses)', () => {
    const limiter = new RateLimiter(1, 1000, 2);
    play(limiter, [
      ['a', 0, 0], ['b', 0, 0], // both empty
      ['c', 0, 0], // no room and nothing full: a, the least recently used, goes
      ['b', 0, 1000], // b was kept: still empty
      ['a', 0, 0], // a starts afresh; c is now the least recently used and goes
      ['b', 0, 1000],
      ['c', 0, 0],
    ]);
  });

  it('counts a use, not the first one, as recent', () => {
    const limiter = new RateLimiter(1, 1000, 3);
    play(limiter, [
      ['a', 0, 0], ['b', 0, 0], ['c', 0, 0],
      ['a', 1, 999], // a was first in, but is now the most recently used
      ['d', 2, 0], // b goes, not a
      ['a', 2, 998], ['c', 2, 998], ['d', 2, 1000],
      ['b', 2, 0],
    ]);
  });

  it('keeps a limited key limited while 10,000+ other keys come and go (rotating addresses reset no one)', () => {
    const limiter = new RateLimiter(1, 60_000);
    assert.equal(limiter.take('attacker', 0), 0);
    assert.equal(limiter.take('attacker', 0), 60_000);
    for (let i = 1; i <= 25_000; i++) {
      assert.equal(limiter.take(`rotated-${i}`, i), 0);
      if (i % 1_000 === 0) assert.ok(limiter.take('attacker', i) > 0, `attacker reset after ${i} other keys`);
    }
    // and each rotated key is limited as long as it is remembered: the most recent ones are
    assert.ok(limiter.take('rotated-25000', 25_000) > 0);
  });
});
