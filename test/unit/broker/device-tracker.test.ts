// The device tracker folds a Pi's stats into one history point a minute (the minute's last sample) and
// writes it once the minute is over: at the Pi's first sample of a later minute, by the sweep for a Pi
// that went quiet, or at stop. Meanwhile the point is still served (pendingPoint), and a removed Pi's
// point is never written. A real SQLite store in a temporary directory, a clock the test moves.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { DeviceTracker } from '../../../broker/device-tracker.js';
import { SqliteStore } from '../../../broker/store/sqlite-store.js';
import { createLogger } from '../../../shared/log.js';
import { stats } from '../../helpers/payloads.js';

const dir = mkdtempSync(join(tmpdir(), 'pifleet-tracker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MINUTE = 60_000;
const T0 = 1_700_000_040_000; // a whole minute
let n = 0;
let store: SqliteStore;
let now = T0;
let tracker: DeviceTracker;
let userId: string;

beforeEach(() => {
  store = SqliteStore.open(join(dir, `hub-${n++}.db`));
  userId = store.users.add('alice', 'h', false).id;
  for (const serial of ['pi-1', 'pi-q', 'pi-busy', 'pi-s', 'pi-gone']) store.devices.enroll(userId, serial, null, `c-${serial}`);
  now = T0;
  tracker = new DeviceTracker(store, createLogger('test', { write: () => true }), 1000, () => now);
});

/** A sample from the Pi at `t`, written as the flush at `t` writes it. */
function sample(serial: string, t: number, load: number): void {
  now = t;
  tracker.stats(tracker.device(userId, serial), Buffer.from(JSON.stringify(stats(load))));
  tracker.flush();
}

const stored = (serial: string) => store.history.range(userId, serial, 0, now).map((p) => [p.ts, p.load]);

describe('device tracker: stats history', () => {
  it("a minute's samples make one point, its last, written when the next minute's first sample comes", () => {
    for (let s = 0; s < 60; s += 5) sample('pi-1', T0 + s * 1000, s / 100);
    assert.deepEqual(stored('pi-1'), [], 'nothing written while the minute runs');
    assert.deepEqual([tracker.pendingPoint(userId, 'pi-1')?.ts, tracker.pendingPoint(userId, 'pi-1')?.load], [T0 + 55_000, 0.55]);
    sample('pi-1', T0 + MINUTE + 2_000, 0.9);
    assert.deepEqual(stored('pi-1'), [[T0, 0.55]], "the first minute's last sample, at its minute");
    assert.equal(tracker.pendingPoint(userId, 'pi-1')?.load, 0.9);
    const hours = store.history.range(userId, 'pi-1', 0, now + 8 * 86_400_000); // older than 7 days: read by the hour
    assert.deepEqual(hours.map((p) => p.load), [0.55], 'and the hour point');
  });

  it("a Pi that goes quiet has its last point written by the sweep, after the minute's grace", () => {
    sample('pi-q', T0 + 30_000, 0.3);
    sample('pi-busy', T0 + 31_000, 0.4);
    now = T0 + MINUTE + 5_000;
    tracker.flush();
    assert.deepEqual(stored('pi-q'), [], 'not yet: within the grace');
    now = T0 + MINUTE + 11_000;
    tracker.flush();
    assert.deepEqual(stored('pi-q'), [[T0, 0.3]]);
    assert.deepEqual(stored('pi-busy'), [[T0, 0.4]]);
    assert.equal(tracker.pendingPoint(userId, 'pi-q'), null);
    assert.equal(store.devices.get(userId, 'pi-q')?.lastSeenAt, T0 + 30_000, 'the sweep is no sign of life: last seen stays');
  });

  it('stop writes the points of the minute running', () => {
    sample('pi-s', T0 + 7_000, 0.7);
    tracker.stop();
    assert.deepEqual(stored('pi-s'), [[T0, 0.7]]);
  });

  it("a removed Pi's pending point is never written", () => {
    sample('pi-gone', T0 + 7_000, 0.7);
    tracker.forget(userId, 'pi-gone');
    assert.equal(tracker.pendingPoint(userId, 'pi-gone'), null);
    now = T0 + 5 * MINUTE;
    tracker.flush();
    tracker.stop();
    assert.deepEqual(stored('pi-gone'), []);
  });
});

describe('device tracker: the samples it keeps', () => {
  it('an empty sample is read, found invalid and logged, and the last valid point stays', () => {
    const lines: string[] = [];
    const t = new DeviceTracker(store, createLogger('test', { write: (l: string) => { lines.push(l); return true; } }), 1000, () => now);
    const e = t.device(userId, 'pi-s');
    t.stats(e, Buffer.from(JSON.stringify(stats(0.4))));
    t.flush();
    t.stats(e, Buffer.alloc(0));
    t.flush();
    assert.equal(t.pendingPoint(userId, 'pi-s')?.load, 0.4);
    assert.equal(lines.filter((l) => l.includes('invalid stats not recorded')).length, 1);
  });
});

describe('device tracker: paced writes', () => {
  it("a flush writes one chunk at once and spreads the rest over its interval, not back to back", async () => {
    const flushMs = 200;
    const paced = new DeviceTracker(store, createLogger('test', { write: () => true }), flushMs);
    const serials = Array.from({ length: 120 }, (_, i) => `pi-p${i}`); // three chunks of 50
    for (const serial of serials) {
      store.devices.enroll(userId, serial, null, `c-${serial}`);
      paced.stats(paced.device(userId, serial), Buffer.from(JSON.stringify(stats(0.1))));
    }
    const written = () => serials.filter((s) => store.devices.get(userId, s)?.lastSeenAt != null).length;
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
      paced.stats(paced.device(userId, serial), Buffer.from(JSON.stringify(stats(0.1))));
    }
    paced.start();
    paced.stop();
    assert.equal(serials.filter((s) => store.devices.get(userId, s)?.lastSeenAt != null).length, 120);
  });
});
