// Table-driven tests of the agent's small pure rules: serial selection, throttling bits, backoff,
// the renewal moment and what a failed renewal means.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffDelay } from '../../../agent/mqtt-link.js';
import { decodeThrottled, parseThrottledOutput } from '../../../agent/pi-sensors.js';
import { RENEW_RETRY_MAX_MS, renewAt, renewalRetry } from '../../../agent/renewer.js';
import { pickSerial } from '../../../agent/serial.js';

describe('pickSerial', () => {
  const rows: Array<[string, string | null, string | null, string | null, string | null]> = [
    ['device tree wins (NUL-terminated)', '10000000abcdef12\0', 'Serial\t\t: 00000000deadbeef\n', 'aaaa', '10000000abcdef12'],
    ['cpuinfo when there is no device tree', null, 'processor\t: 0\nSerial\t\t: 00000000deadbeef\nModel\t: Raspberry Pi\n', '0123456789abcdef0123', '00000000deadbeef'],
    ['an all-zero serial is no serial', '0000000000000000\0', 'Serial\t\t: 0000000000000000\n', '0123456789abcdef0123456789abcdef\n', '0123456789abcdef'],
    ['machine-id, first 16 hex digits', null, 'processor: 0\n', '0123456789ABCDEF0123456789abcdef\n', '0123456789abcdef'],
    ['nothing usable', null, null, 'not-hex', null],
    ['a device-tree value that is not a serial falls through', 'bad serial!\0', null, null, null],
  ];
  for (const [name, dt, cpu, mid, want] of rows) test(name, () => assert.equal(pickSerial(dt, cpu, mid), want));
});

describe('throttling', () => {
  test('parses vcgencmd output', () => {
    assert.equal(parseThrottledOutput('throttled=0x50005\n'), 0x50005);
    assert.equal(parseThrottledOutput('throttled=0x0\n'), 0);
    assert.equal(parseThrottledOutput('error=1 error_msg="Command not registered"'), null);
  });
  const rows: Array<[number, Partial<Record<string, boolean>>]> = [
    [0x0, {}],
    [0x1, { underVoltageNow: true }],
    [0x50005, { underVoltageNow: true, throttledNow: true, underVoltageEver: true, throttledEver: true }],
    [0x80008, { softTempLimitNow: true, softTempLimitEver: true }],
    [0x20002, { freqCappedNow: true, freqCappedEver: true }],
  ];
  for (const [raw, set] of rows) {
    test(`decodes 0x${raw.toString(16)}`, () => {
      const d = decodeThrottled(raw);
      assert.equal(d.raw, raw);
      for (const k of ['underVoltageNow', 'freqCappedNow', 'throttledNow', 'softTempLimitNow', 'underVoltageEver', 'freqCappedEver', 'throttledEver', 'softTempLimitEver'] as const) {
        assert.equal(d[k], set[k] === true, k);
      }
    });
  }
});

describe('backoffDelay (full jitter, capped)', () => {
  const rows: Array<[number, number, number]> = [
    // attempt, random, expected with min 1000 and max 60000
    [0, 1, 1000], [1, 1, 2000], [3, 1, 8000], [10, 1, 60000], [1000, 1, 60000],
    [5, 0, 500], // never below half the minimum: no reconnect storms at zero
    [5, 0.5, 16000],
  ];
  for (const [attempt, r, want] of rows) test(`attempt ${attempt}, random ${r} → ${want} ms`, () => assert.equal(backoffDelay(attempt, 1000, 60_000, () => r), want));
});

describe('renewAt', () => {
  test('two thirds of the lifetime', () => {
    assert.equal(renewAt(0, 30), 20);
    const day = 86_400_000;
    assert.equal(renewAt(1_000, 1_000 + 30 * day), 1_000 + 20 * day);
  });
});

describe('renewalRetry', () => {
  const day = 86_400_000;
  const REFUSED = 600_000;
  const rows: Array<[string, Parameters<typeof renewalRetry>[0], boolean, number, RegExp | null]> = [
    // a due 30-day certificate (10 days left): a lost response or a network failure is retried within minutes, not hours
    ['network failure, 10 days left', { leftMs: 10 * day, failures: 1 }, false, RENEW_RETRY_MAX_MS, null],
    ['network failure, 10 days left, again and again', { leftMs: 10 * day, failures: 9 }, false, RENEW_RETRY_MAX_MS, null],
    ['hub error 503', { status: 503, leftMs: 10 * day, failures: 1 }, false, RENEW_RETRY_MAX_MS, null],
    // short lifetimes: a tenth of what is left, growing with failures, at least 1 s
    ['60 s left, first failure', { leftMs: 60_000, failures: 1 }, false, 1_200, null],
    ['60 s left, fifth failure', { leftMs: 60_000, failures: 5 }, false, 6_000, null],
    ['5 s left', { leftMs: 5_000, failures: 1 }, false, 1_000, null],
    // refusals: only `pi-agent connect` helps
    ['revoked (401)', { status: 401, leftMs: 10 * day, failures: 1 }, true, REFUSED, /no longer accepts/],
    ['not a device certificate (403)', { status: 403, leftMs: 10 * day, failures: 1 }, true, REFUSED, /no longer accepts/],
    ['expired', { leftMs: -1, failures: 1 }, true, REFUSED, /no longer accepts/],
    ['already renewed, successor in use', { status: 409, code: 'already_renewed', leftMs: 10 * day, failures: 1 }, true, REFUSED,
      /^this certificate was already renewed and its successor is in use: connect this Pi again$/],
  ];
  for (const [name, failure, refused, inMs, hint] of rows) {
    test(name, () => {
      const r = renewalRetry(failure, REFUSED);
      assert.equal(r.refused, refused);
      assert.equal(r.inMs, inMs);
      if (hint) assert.match(r.hint, hint);
    });
  }
});
