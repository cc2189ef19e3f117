// The accept gate: `perSecond` connections at once and then at that rate, at most a quarter second's
// worth let in and not yet connected; each connection turned away is told when to come back, the
// deferred spread at the same rate over the seconds ahead (so a storm returns once, in order, instead of
// retrying together), never further than MAX_RETRY_AFTER_S.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AcceptGate } from '../../../broker/accept-gate.js';
import { MAX_RETRY_AFTER_S } from '../../../shared/limits.js';

const T = 1_000_000;

/** admit() for a connection that connects at once (done() right away). */
function quick(gate: AcceptGate, now: number) {
  const a = gate.admit(now);
  if (a.ok) gate.done();
  return a;
}

describe('accept gate', () => {
  it('takes a burst of perSecond, then defers the rest over the seconds ahead, perSecond to a second', () => {
    const gate = new AcceptGate(10, T);
    const first = Array.from({ length: 40 }, () => quick(gate, T));
    assert.equal(first.filter((a) => a.ok).length, 10);
    const after = first.flatMap((a) => (a.ok ? [] : [a.retryAfterS]));
    assert.deepEqual(after, [...Array(10).fill(1), ...Array(10).fill(2), ...Array(10).fill(3)]);
  });

  it('refills at the rate: a second later another perSecond go through, and the schedule moves on', () => {
    const gate = new AcceptGate(10, T);
    for (let i = 0; i < 25; i++) quick(gate, T); // 10 in; 10 told 1 s, 5 told 2 s (the second at T + 2000 half taken)
    const later = Array.from({ length: 20 }, () => quick(gate, T + 1000));
    assert.equal(later.filter((a) => a.ok).length, 10);
    // The newcomers fill the second at T + 2000 (1 s from now), then the next.
    assert.deepEqual(later.flatMap((a) => (a.ok ? [] : [a.retryAfterS])), [...Array(5).fill(1), ...Array(5).fill(2)]);
  });

  it('a deferred connection that comes back at its time gets in', () => {
    const gate = new AcceptGate(5, T);
    for (let i = 0; i < 5; i++) quick(gate, T);
    const told = gate.admit(T);
    assert.deepEqual(told, { ok: false, retryAfterS: 1 });
    assert.deepEqual(gate.admit(T + 1000), { ok: true });
  });

  it(`never tells a connection to wait more than ${MAX_RETRY_AFTER_S} s`, () => {
    const gate = new AcceptGate(1, T);
    let last = 0;
    for (let i = 0; i < 1000; i++) { const a = quick(gate, T); if (!a.ok) last = a.retryAfterS; }
    assert.equal(last, MAX_RETRY_AFTER_S);
  });

  it('lets in at most a quarter of perSecond that have not connected yet, then one more for each that has (or is gone)', () => {
    const gate = new AcceptGate(200, T);
    assert.equal(gate.maxPending, 50);
    const waiting = Array.from({ length: 60 }, () => gate.admit(T));
    assert.equal(waiting.filter((a) => a.ok).length, 50, 'tokens left, but 50 are still waiting for their CONNACK');
    assert.deepEqual(waiting.at(-1), { ok: false, retryAfterS: 1 });
    gate.done();
    gate.done();
    assert.deepEqual([gate.admit(T).ok, gate.admit(T).ok, gate.admit(T).ok], [true, true, false]);
  });

  it('a storm spread over time builds its schedule: deferred a few ms apart, no second gets more than perSecond', () => {
    const gate = new AcceptGate(10, T);
    const due = new Map<number, number>(); // the second each deferred connection is told to come back in
    for (let i = 0; i < 300; i++) {
      const now = T + i * 5; // 200 a second arriving, 10 a second let in
      const a = quick(gate, now);
      if (!a.ok) {
        const at = Math.floor((now + a.retryAfterS * 1000) / 1000); // Retry-After counts from now: it lands in that second
        due.set(at, (due.get(at) ?? 0) + 1);
      }
    }
    assert.ok(Math.max(...due.values()) <= 10, `at most 10 told to come back in any second: ${JSON.stringify([...due])}`);
    assert.ok(due.size >= 25, `the ~285 deferred spread over ~29 seconds, not the next few: ${due.size}`);
  });
});
