// The accept gate: `perSecond` connections at once and then at that rate, at most a quarter second's
// worth let in and not yet connected; a waiting room for a few seconds' worth, oldest first, none
// waiting too long; each connection turned away is told when to come back, the deferred spread at the
// same rate over the seconds ahead after the room (so a storm returns once, in order, instead of
// retrying together), never further than MAX_RETRY_AFTER_S.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AcceptGate, type GateOptions, type Pass } from '../../../broker/accept-gate.js';
import { MAX_RETRY_AFTER_S } from '../../../shared/limits.js';

const T = 1_000_000;

type Said = { ok: true } | { ok: false; retryAfterS: number } | { waiting: true };

/** A gate on a clock the test moves, letting the waiting in only when the test pumps it. */
function gateAt(perSecond: number, o: GateOptions = {}) {
  const clock = { t: T };
  const gate = new AcceptGate(perSecond, { clock: () => clock.t, timer: false, ...o });
  return { gate, clock };
}

/** One connection at the gate: what it is told at once, and later (`told`). */
function knock(gate: AcceptGate, connectsAtOnce = false) {
  const c: { told: Said | null; leave: () => void; pass: Pass | null } = { told: null, leave: () => {}, pass: null };
  c.leave = gate.enter({
    go: (pass) => { c.told = { ok: true }; c.pass = pass; if (connectsAtOnce) pass.done(); },
    away: (retryAfterS) => { c.told = { ok: false, retryAfterS }; },
  });
  const now: Said = c.told ?? { waiting: true };
  return { now, c };
}

/** Without a waiting room, as the gate was first: in now, or turned away. */
function quick(gate: AcceptGate): Said {
  return knock(gate, true).now;
}

describe('accept gate', () => {
  it('takes a burst of perSecond, then defers the rest over the seconds ahead, perSecond to a second', () => {
    const { gate } = gateAt(10, { waitingSeconds: 0 });
    const first = Array.from({ length: 40 }, () => quick(gate));
    assert.equal(first.filter((a) => 'ok' in a && a.ok).length, 10);
    const after = first.flatMap((a) => ('retryAfterS' in a ? [a.retryAfterS] : []));
    assert.deepEqual(after, [...Array(10).fill(1), ...Array(10).fill(2), ...Array(10).fill(3)]);
  });

  it('refills at the rate: a second later another perSecond go through, and the schedule moves on', () => {
    const { gate, clock } = gateAt(10, { waitingSeconds: 0 });
    for (let i = 0; i < 25; i++) quick(gate); // 10 in; 10 told 1 s, 5 told 2 s (the second at T + 2000 half taken)
    clock.t = T + 1000;
    const later = Array.from({ length: 20 }, () => quick(gate));
    assert.equal(later.filter((a) => 'ok' in a && a.ok).length, 10);
    // The newcomers fill the second at T + 2000 (1 s from now), then the next.
    assert.deepEqual(later.flatMap((a) => ('retryAfterS' in a ? [a.retryAfterS] : [])), [...Array(5).fill(1), ...Array(5).fill(2)]);
  });

  it('a deferred connection that comes back at its time gets in', () => {
    const { gate, clock } = gateAt(5, { waitingSeconds: 0 });
    for (let i = 0; i < 5; i++) quick(gate);
    assert.deepEqual(knock(gate).now, { ok: false, retryAfterS: 1 });
    clock.t = T + 1000;
    assert.deepEqual(knock(gate).now, { ok: true });
  });

  it(`never tells a connection to wait more than ${MAX_RETRY_AFTER_S} s`, () => {
    const { gate } = gateAt(1, { waitingSeconds: 0 });
    let last = 0;
    for (let i = 0; i < 1000; i++) { const a = quick(gate); if ('retryAfterS' in a) last = a.retryAfterS; }
    assert.equal(last, MAX_RETRY_AFTER_S);
  });

  it('lets in at most a quarter of perSecond that have not connected yet, then one more for each that has (or is gone)', () => {
    const { gate } = gateAt(200, { waitingSeconds: 0 });
    assert.equal(gate.maxPending, 50);
    const ks = Array.from({ length: 60 }, () => knock(gate));
    const waiting = ks.map((k) => k.now);
    assert.equal(waiting.filter((a) => 'ok' in a && a.ok).length, 50, 'tokens left, but 50 are still waiting for their CONNACK');
    assert.deepEqual(waiting.at(-1), { ok: false, retryAfterS: 1 });
    ks[0]!.c.pass!.done();
    ks[0]!.c.pass!.done(); // twice: gives back one place, not two
    ks[1]!.c.pass!.done();
    assert.deepEqual([knock(gate).now, knock(gate).now, knock(gate).now].map((a) => 'ok' in a && a.ok), [true, true, false]);
  });

  it('a storm spread over time builds its schedule: deferred a few ms apart, no second gets more than perSecond', () => {
    const { gate, clock } = gateAt(10, { waitingSeconds: 0 });
    const due = new Map<number, number>(); // the second each deferred connection is told to come back in
    for (let i = 0; i < 300; i++) {
      const now = clock.t = T + i * 5; // 200 a second arriving, 10 a second let in
      const a = quick(gate);
      if ('retryAfterS' in a) {
        const at = Math.floor((now + a.retryAfterS * 1000) / 1000); // Retry-After counts from now: it lands in that second
        due.set(at, (due.get(at) ?? 0) + 1);
      }
    }
    assert.ok(Math.max(...due.values()) <= 10, `at most 10 told to come back in any second: ${JSON.stringify([...due])}`);
    assert.ok(due.size >= 25, `the ~285 deferred spread over ~29 seconds, not the next few: ${due.size}`);
  });

  it('with a waiting room, those beyond the burst wait their turn, oldest first, and go in as the tokens come', () => {
    const { gate, clock } = gateAt(10, { waitingSeconds: 2 });
    assert.equal(gate.maxWaiting, 20);
    const ks = Array.from({ length: 25 }, () => knock(gate, true));
    assert.equal(ks.filter((k) => 'ok' in k.now && k.now.ok).length, 10, 'the burst');
    assert.equal(ks.filter((k) => 'waiting' in k.now).length, 15, 'the rest wait: none turned away while the room has space');
    assert.equal(gate.waiting, 15);
    clock.t = T + 500; // five tokens
    gate.pump();
    const gone = ks.slice(10).map((k) => k.c.told !== null);
    assert.deepEqual(gone, [...Array(5).fill(true), ...Array(10).fill(false)], 'the five who came first, in order');
    clock.t = T + 1500;
    gate.pump();
    assert.ok(ks.every((k) => k.c.told !== null && 'ok' in k.c.told && k.c.told.ok), 'every one let in in the end, none turned away');
    assert.equal(gate.waiting, 0);
  });

  it('beyond the room, connections are turned away to come back after the room has emptied', () => {
    const { gate } = gateAt(10, { waitingSeconds: 2 });
    const ks = Array.from({ length: 40 }, () => knock(gate, true));
    const away = ks.flatMap((k) => ('retryAfterS' in k.now ? [k.now.retryAfterS] : []));
    // 10 in, 20 waiting (2 s at the rate), then the schedule starts a second after those 2 s.
    assert.deepEqual(away, Array(10).fill(3));
  });

  it('one gone while it waits loses its place and is never let in; the next takes it', () => {
    const { gate, clock } = gateAt(10, { waitingSeconds: 2 });
    for (let i = 0; i < 10; i++) knock(gate, true);
    const a = knock(gate, true);
    const b = knock(gate, true);
    a.c.leave();
    assert.equal(gate.waiting, 1);
    clock.t = T + 100; // one token
    gate.pump();
    assert.equal(a.c.told, null, 'never told anything: it is gone');
    assert.deepEqual(b.c.told, { ok: true });
  });

  it('lets the waiting in as those let in connect, when the places were the limit', () => {
    const { gate } = gateAt(200, { waitingSeconds: 1 });
    const first = Array.from({ length: 50 }, () => knock(gate)); // 50 places, none connected yet
    const next = knock(gate);
    assert.ok(first.every((k) => 'ok' in k.now), 'the first 50 in');
    assert.deepEqual(next.now, { waiting: true });
    first[0]!.c.pass!.done(); // one of the first connected
    assert.deepEqual(next.c.told, { ok: true });
  });

  it('one let in whose CONNECT has not come within the grace stops counting; one whose CONNECT came counts until done', async () => {
    const gate = new AcceptGate(16, { connectGraceMs: 50 }); // 4 places
    const silent = Array.from({ length: 4 }, () => knock(gate)); // let in, never a CONNECT
    const behind = knock(gate);
    assert.ok(silent.every((k) => 'ok' in k.now));
    assert.deepEqual(behind.now, { waiting: true }, 'no place while the four count');
    const t0 = Date.now();
    while (behind.c.told === null && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(behind.c.told, { ok: true }, 'let in once the silent ones stopped counting');
    assert.ok(Date.now() - t0 >= 40, 'not before their grace was over');

    const gate2 = new AcceptGate(16, { connectGraceMs: 50 });
    const slow = Array.from({ length: 4 }, () => knock(gate2));
    for (const k of slow) k.c.pass!.connecting(); // CONNECT in, CONNACK not yet: the hub's own work
    const behind2 = knock(gate2);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(behind2.c.told, null, 'still waiting: those connecting keep their places past the grace');
    slow[0]!.c.pass!.done();
    assert.deepEqual(behind2.c.told, { ok: true });
    gate.close();
    gate2.close();
  });

  it('turns away one that waited too long, with a time from the schedule', () => {
    const { gate, clock } = gateAt(10, { waitingSeconds: 100, maxWaitMs: 3000 });
    for (let i = 0; i < 50; i++) knock(gate); // 10 in, never connected: no place frees
    const late = knock(gate);
    clock.t = T + 3001;
    gate.pump();
    assert.ok(late.c.told !== null && 'retryAfterS' in late.c.told && late.c.told.retryAfterS >= 1, JSON.stringify(late.c.told));
    assert.equal(gate.waiting, 0, 'all who waited more than 3 s are turned away');
  });

  it('turns away everyone still waiting when it closes, and everyone after', () => {
    const { gate } = gateAt(5, { waitingSeconds: 2 });
    const ks = Array.from({ length: 8 }, () => knock(gate, true));
    gate.close();
    assert.deepEqual(ks.slice(5).map((k) => k.c.told), Array(3).fill({ ok: false, retryAfterS: 1 }));
    assert.deepEqual(knock(gate).now, { ok: false, retryAfterS: 1 });
  });

  it('on its own timer, lets the waiting in at the rate (real time)', async () => {
    const gate = new AcceptGate(100);
    const ks = Array.from({ length: 130 }, () => knock(gate, true));
    assert.equal(ks.filter((k) => 'waiting' in k.now).length, 30);
    const t0 = Date.now();
    while (ks.some((k) => k.c.told === null) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(ks.every((k) => k.c.told !== null && 'ok' in k.c.told && k.c.told.ok), 'all 130 in');
    assert.ok(Date.now() - t0 >= 200, `30 more at 100 a second take about 0.3 s, not less: ${Date.now() - t0} ms`);
    gate.close();
  });
});
