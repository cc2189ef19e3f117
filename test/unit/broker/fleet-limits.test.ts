// The fleet limits' pure parts (broker/fleet-limits.ts), on an explicit clock, and the ticket keys'
// file (broker/ca/ticket-keys.ts): kept across starts, replaced when malformed or too old.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TICKET_KEYS_MAX_AGE_MS, loadTicketKeys, ticketKeysPath } from '../../../broker/ca/ticket-keys.js';
import { DEFAULT_FLEET_LIMITS, type StatsBucket, fleetLimitsFrom, takeStatsToken } from '../../../broker/fleet-limits.js';

describe('takeStatsToken', () => {
  it('lets a burst through, then one per refill interval; time without stats refills up to the burst', () => {
    const rate = { perMinute: 6, burst: 3 }; // one every 10 s
    const b: StatsBucket = {};
    const steps: Array<[now: number, ok: boolean]> = [
      [0, true], [0, true], [0, true], // the burst
      [0, false], [9_999, false], // empty until 10 s
      [10_000, true], [10_000, false],
      [25_000, true], // one more at 20 s; the 5 s beyond are kept…
      [29_999, false], [30_000, true], // …so the next comes at 30 s
      [1_000_000, true], [1_000_000, true], [1_000_000, true], [1_000_000, false], // a long pause refills only the burst
    ];
    steps.forEach(([now, ok], i) => assert.equal(takeStatsToken(b, rate, now), ok, `step ${i} at ${now}`));
  });
});

describe('fleetLimitsFrom', () => {
  const rows: Array<[file: Parameters<typeof fleetLimitsFrom>[0], want: typeof DEFAULT_FLEET_LIMITS]> = [
    [{}, { maxConnections: 20_000, maxDevicesPerUser: 10_000, stats: { perMinute: 60, burst: 60 }, acceptPerSecond: 400 }],
    [{ statsPerMinute: 6 }, { ...DEFAULT_FLEET_LIMITS, stats: { perMinute: 6, burst: 10 } }],
    [{ statsPerMinute: 120, maxConnections: 3, mqttAcceptPerSecond: 5 }, { ...DEFAULT_FLEET_LIMITS, maxConnections: 3, acceptPerSecond: 5, stats: { perMinute: 120, burst: 120 } }],
  ];
  for (const [file, want] of rows) it(JSON.stringify(file), () => assert.deepEqual(fleetLimitsFrom(file), want));
});

describe('loadTicketKeys', () => {
  it('makes 48 bytes 0600 once, reads the same at the next start, and replaces them when malformed or a week old', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-ticket-keys-'));
    try {
      mkdirSync(join(dir, 'tls'));
      const first = loadTicketKeys(dir);
      assert.equal(first.length, 48);
      assert.equal(statSync(ticketKeysPath(dir)).mode & 0o777, 0o600);
      assert.deepEqual(loadTicketKeys(dir), first, 'kept across starts');
      const old = (Date.now() - TICKET_KEYS_MAX_AGE_MS - 1000) / 1000;
      utimesSync(ticketKeysPath(dir), old, old);
      const second = loadTicketKeys(dir);
      assert.notDeepEqual(second, first, 'replaced when too old');
      assert.deepEqual(readFileSync(ticketKeysPath(dir)), second);
      writeFileSync(ticketKeysPath(dir), 'short');
      assert.equal(loadTicketKeys(dir).length, 48, 'replaced when malformed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
