// The device tracker writes a Pi's status and manifest within a flush, and the rest — last seen, the
// newest stats, history points — in the Pi's routine write, once a minute at a second of its own (a
// hash of its name); meanwhile it answers with what it holds (latest, pendingPoints). The history keeps a
// point a minute (the minute's last sample), written once its minute is over; a removed Pi's are never
// written. A real SQLite store in a temporary directory, a clock the test moves.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { DeviceTracker, writeSlot } from '../../../broker/device-tracker.js';
import { SqliteStore } from '../../../broker/store/sqlite-store.js';
import { createLogger } from '../../../shared/log.js';
import { manifest, stats, status } from '../../helpers/payloads.js';

const dir = mkdtempSync(join(tmpdir(), 'pifleet-tracker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MINUTE = 60_000;
const T0 = 1_700_000_040_000; // a whole minute: T0 + N s is second N of its minute
let n = 0;
let store: SqliteStore;
let now = T0;
let tracker: DeviceTracker;
let userId: string;

beforeEach(() => {
  store = SqliteStore.open(join(dir, `hub-${n++}.db`));
  userId = store.users.add('alice', 'h', false).id;
  for (const serial of ['pi-1', 'pi-2', 'pi-s', 'pi-gone']) store.devices.enroll(userId, serial, null, `c-${serial}`);
  now = T0;
  tracker = new DeviceTracker(store, createLogger('test', { write: () => true }), 1000, () => now);
});

/** An enrolled Pi whose routine writes come at second `slot` of each minute. */
function piAt(slot: number): string {
  for (let i = 0; ; i++) {
    const serial = `pi-at${slot}-${i}`;
    if (writeSlot(userId, serial) === slot) {
      store.devices.enroll(userId, serial, null, `c-${serial}`);
      return serial;
    }
  }
}

const raw = (load: number) => Buffer.from(JSON.stringify(stats(load)));

/** A sample from the Pi at `t`, then the flush at `t`. */
function sample(serial: string, t: number, load: number): void {
  now = t;
  tracker.stats(tracker.device(userId, serial), raw(load));
  tracker.flush();
}

function flushAt(t: number): void {
  now = t;
  tracker.flush();
}

const stored = (serial: string) => store.history.range(userId, serial, 0, now).map((p) => [p.ts, p.load]);
const pending = (serial: string) => tracker.pendingPoints(userId, serial).map((p) => [p.ts, p.load]);
const row = (serial: string) => store.devices.get(userId, serial)!;
const loadOf = (stats: unknown) => (stats as { cpu: { load: number } } | null)?.cpu.load ?? null;

describe('device tracker: when the store learns what', () => {
  it("the device row takes the newest stats once a minute, at the Pi's second, not at every sample; the node's view has them at once", () => {
    const pi = piAt(30);
    for (let s = 0; s < 30; s += 5) {
      sample(pi, T0 + s * 1000, s / 100);
      assert.deepEqual([row(pi).lastDataAt, row(pi).lastStats], [null, null], `not written at ${s} s`);
      const v = tracker.latest(row(pi));
      assert.deepEqual([v.lastSeenAt, v.lastDataAt, loadOf(v.lastStats)], [T0 + s * 1000, T0 + s * 1000, s / 100], `seen at ${s} s`);
    }
    sample(pi, T0 + 30_000, 0.3); // its second
    let r = row(pi);
    assert.deepEqual([r.lastSeenAt, r.lastDataAt, loadOf(r.lastStats)], [T0 + 30_000, T0 + 30_000, 0.3]);
    for (let s = 35; s < 90; s += 5) sample(pi, T0 + s * 1000, s / 100);
    assert.equal(loadOf(row(pi).lastStats), 0.3, 'the next one a minute later');
    sample(pi, T0 + 90_000, 0.9);
    r = row(pi);
    assert.deepEqual([r.lastSeenAt, r.lastDataAt, loadOf(r.lastStats)], [T0 + 90_000, T0 + 90_000, 0.9]);
  });

  it('a status or a manifest is written at the next flush, and shown before', () => {
    const e = tracker.device(userId, 'pi-2');
    now = T0 + 1_000;
    tracker.status(e, status(true));
    tracker.manifest(e, manifest('shed'));
    assert.equal(tracker.latest(row('pi-2')).online, true, 'shown before it is written');
    assert.equal(row('pi-2').online, false);
    flushAt(T0 + 1_500);
    const r = row('pi-2');
    assert.deepEqual([r.online, (r.manifest as { device: { hostname: string } }).device.hostname, r.lastSeenAt], [true, 'shed', T0 + 1_000]);
  });

  it('Pis that start together are written at their own seconds', () => {
    const [a, b] = [piAt(10), piAt(40)];
    sample(a, T0 + 1_000, 0.1);
    sample(b, T0 + 1_000, 0.2);
    flushAt(T0 + 10_000);
    assert.deepEqual([loadOf(row(a).lastStats), loadOf(row(b).lastStats)], [0.1, null]);
    flushAt(T0 + 39_000);
    assert.equal(loadOf(row(b).lastStats), null);
    flushAt(T0 + 40_000);
    assert.equal(loadOf(row(b).lastStats), 0.2);
  });

  it('a flush after a long pause takes every second it missed, each once', () => {
    const [a, b] = [piAt(5), piAt(50)];
    sample(a, T0 + 1_000, 0.1);
    sample(b, T0 + 1_000, 0.2);
    flushAt(T0 + 3 * MINUTE); // the loop was held: both seconds came and went
    assert.deepEqual([loadOf(row(a).lastStats), loadOf(row(b).lastStats)], [0.1, 0.2]);
  });
});

describe('device tracker: stats history', () => {
  it("a minute's samples make one point, its last, written at the Pi's second once the minute is over", () => {
    const pi = piAt(30);
    for (let s = 0; s < 60; s += 5) sample(pi, T0 + s * 1000, s / 100);
    assert.deepEqual(stored(pi), [], 'nothing written while the minute runs');
    assert.deepEqual(pending(pi), [[T0 + 55_000, 0.55]]);
    sample(pi, T0 + MINUTE + 2_000, 0.9);
    assert.deepEqual(stored(pi), [], 'waits for its second');
    assert.deepEqual(pending(pi), [[T0 + 55_000, 0.55], [T0 + MINUTE + 2_000, 0.9]], 'served meanwhile, one a minute');
    flushAt(T0 + MINUTE + 30_000);
    assert.deepEqual(stored(pi), [[T0, 0.55]], "the first minute's last sample, at its minute");
    assert.deepEqual(pending(pi), [[T0 + MINUTE + 2_000, 0.9]], 'the running minute stays');
    const hours = store.history.range(userId, pi, 0, now + 8 * 86_400_000); // older than 7 days: read by the hour
    assert.deepEqual(hours.map((p) => p.load), [0.55], 'and the hour point');
  });

  it('a Pi that goes quiet has its last point written once its minute is over', () => {
    const pi = piAt(10);
    sample(pi, T0 + 5_000, 0.3);
    flushAt(T0 + 10_000);
    assert.equal(loadOf(row(pi).lastStats), 0.3);
    assert.deepEqual([stored(pi), pending(pi)], [[], [[T0 + 5_000, 0.3]]], 'its minute still runs');
    flushAt(T0 + MINUTE + 9_000);
    assert.deepEqual(stored(pi), []);
    flushAt(T0 + MINUTE + 10_000);
    assert.deepEqual([stored(pi), pending(pi)], [[[T0, 0.3]], []]);
    assert.equal(row(pi).lastSeenAt, T0 + 5_000, 'writing the point is no sign of life: last seen stays');
  });

  it('stop writes everything, the points of the minute running too', () => {
    sample('pi-s', T0 + 7_000, 0.7);
    now = T0 + 8_000;
    tracker.seen(tracker.device(userId, 'pi-2'));
    tracker.stop();
    assert.deepEqual(stored('pi-s'), [[T0, 0.7]]);
    assert.deepEqual([row('pi-s').lastDataAt, loadOf(row('pi-s').lastStats), row('pi-2').lastSeenAt], [T0 + 7_000, 0.7, T0 + 8_000]);
  });

  it("a removed Pi's pending points are never written", () => {
    sample('pi-gone', T0 + 7_000, 0.7);
    tracker.forget(userId, 'pi-gone');
    assert.deepEqual(pending('pi-gone'), []);
    flushAt(T0 + 5 * MINUTE);
    tracker.stop();
    assert.deepEqual(stored('pi-gone'), []);
  });
});

describe('device tracker: the samples it keeps', () => {
  it('an invalid sample is logged when read and recorded nowhere; the valid stats before it stay', () => {
    const pi = piAt(20);
    const lines: string[] = [];
    const t = new DeviceTracker(store, createLogger('test', { write: (l: string) => { lines.push(l); return true; } }), 1000, () => now);
    const e = t.device(userId, pi);
    t.stats(e, raw(0.4));
    now = T0 + 20_000;
    t.flush();
    now = T0 + 25_000;
    t.stats(e, Buffer.alloc(0));
    assert.equal(loadOf(t.latest(row(pi)).lastStats), 0.4, 'not shown');
    now = T0 + MINUTE + 20_000;
    t.flush();
    t.stop();
    assert.equal(lines.filter((l) => l.includes('invalid stats not recorded')).length, 1);
    const r = row(pi);
    assert.deepEqual([loadOf(r.lastStats), r.lastDataAt, r.lastSeenAt], [0.4, T0, T0 + 25_000]);
    assert.deepEqual(store.history.range(userId, pi, 0, now).map((p) => p.load), [0.4], 'no point for the invalid one');
  });
});

describe('device tracker: paced writes', () => {
  it("a flush writes one chunk at once and spreads the rest over its interval, not back to back", async () => {
    const flushMs = 200;
    const paced = new DeviceTracker(store, createLogger('test', { write: () => true }), flushMs);
    const serials = Array.from({ length: 120 }, (_, i) => `pi-p${i}`); // three chunks of 50
    for (const serial of serials) {
      store.devices.enroll(userId, serial, null, `c-${serial}`);
      paced.status(paced.device(userId, serial), status(true));
    }
    const written = () => serials.filter((s) => row(s).online).length;
    paced.flush();
    assert.equal(written(), 50, 'the first chunk, now');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(written(), 50, 'the next chunk waits its turn in the interval, not the next turn of the loop');
    await new Promise((r) => setTimeout(r, flushMs));
    assert.equal(written(), 120, 'all of them within the interval');
    paced.stop();
  });

  it('stop writes what is still waiting for its turn', () => {
    const paced = new DeviceTracker(store, createLogger('test', { write: () => true }), 60_000);
    const serials = Array.from({ length: 120 }, (_, i) => `pi-s${i}`);
    for (const serial of serials) {
      store.devices.enroll(userId, serial, null, `c-${serial}`);
      paced.stats(paced.device(userId, serial), raw(0.1));
    }
    paced.start();
    paced.stop();
    assert.equal(serials.filter((s) => row(s).lastDataAt != null).length, 120);
  });
});

describe("the store's device row (two hub nodes writing a Pi that moved)", () => {
  it('last seen and the newest stats never go back in time; status and manifest are what was written last', () => {
    const s = (load: number) => stats(load);
    store.devices.applyReports([{ serial: 'pi-1', userId, seenAt: T0 + 9_000, stats: s(0.9), dataAt: T0 + 8_000, status: status(true), online: true }]);
    // The node the Pi left writes, a little later, what it heard before.
    store.devices.applyReports([{ serial: 'pi-1', userId, seenAt: T0 + 3_000, stats: s(0.3), dataAt: T0 + 3_000 }]);
    let r = row('pi-1');
    assert.deepEqual([r.lastSeenAt, r.lastDataAt, loadOf(r.lastStats), r.online], [T0 + 9_000, T0 + 8_000, 0.9, true]);
    store.devices.applyReports([{ serial: 'pi-1', userId, seenAt: T0 + 12_000, status: status(false), online: false, manifest: manifest('rack') }]);
    r = row('pi-1');
    assert.deepEqual([r.lastSeenAt, r.lastDataAt, loadOf(r.lastStats), r.online], [T0 + 12_000, T0 + 8_000, 0.9, false]);
    assert.equal((r.manifest as { device: { hostname: string } }).device.hostname, 'rack');
    store.devices.applyReports([{ serial: 'pi-1', userId, seenAt: T0 + 13_000, stats: s(0.5), dataAt: T0 + 13_000 }]);
    r = row('pi-1');
    assert.deepEqual([r.lastSeenAt, r.lastDataAt, loadOf(r.lastStats), r.online], [T0 + 13_000, T0 + 13_000, 0.5, false], 'a report without status keeps it');
  });
});
