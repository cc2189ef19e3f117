// The API under a hostile caller (issue 7): what the device list tells about API key ids through its
// timing, and how many requests one address may make to it.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { type ApiResponse, TestHub, type UserCredentials } from '../../helpers/hub.js';
import { sleep } from '../../helpers/process.js';

let hub: TestHub;
let apiKey: string;
let alice: UserCredentials;
before(async () => {
  hub = await TestHub.start();
  await hub.addUser('alice');
  [apiKey, alice] = await Promise.all([hub.apiKey('alice'), hub.userCert('alice')]);
});
after(async () => { await hub.stop(); });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// In this order: the first test stays within the device list's per-address burst, the second drains it.
describe('GET /api/v1/devices under a hostile caller', () => {
  it('answers an unknown key id as slowly as a wrong secret, with the same body', async () => {
    const id = /^pk_([a-z0-9]{12})_/.exec(apiKey)![1]!;
    const wrongSecret = `pk_${id}_${'0'.repeat(64)}`;
    const unknownId = `pk_${id === 'zzzzzzzzzzzz' ? 'yyyyyyyyyyyy' : 'zzzzzzzzzzzz'}_${'0'.repeat(64)}`;
    // Each from an address of its own: wrong secrets slow down the address that sends them (5 a minute
    // per address and key id), and this test times the answers, not that limit.
    let address = 10;
    const ask = async (key: string): Promise<{ ms: number; r: ApiResponse }> => {
      const t = performance.now();
      const r = await hub.request('GET', '/api/v1/devices', undefined, { authorization: `Bearer ${key}` }, undefined, { localAddress: `127.0.0.${address++}` });
      return { ms: performance.now() - t, r };
    };
    await ask(wrongSecret); // not timed: the first connection's TLS handshake
    await ask(unknownId);
    const times = { unknown: [] as number[], wrong: [] as number[] };
    const bodies = new Set<string>();
    // interleaved, so a load change on the machine weighs on both
    for (let i = 0; i < 7; i++) {
      for (const [kind, key] of [['unknown', unknownId], ['wrong', wrongSecret]] as const) {
        const { ms, r } = await ask(key);
        assert.equal(r.status, 401, `${kind}: ${r.text}`);
        bodies.add(r.text);
        times[kind].push(ms);
      }
    }
    assert.deepEqual([...bodies], ['{"error":{"code":"unauthorized","message":"unknown or revoked API key"}}']);
    const ratio = median(times.unknown) / median(times.wrong);
    assert.ok(ratio > 1 / 3 && ratio < 3, `median ms unknown id ${median(times.unknown).toFixed(1)} vs wrong secret ${median(times.wrong).toFixed(1)}: ratio ${ratio.toFixed(2)}`);
  });

  it('refuses a burst from one address beyond its limit with 429 and retry-after, whatever the credential', async () => {
    const started = Date.now();
    const burst = await Promise.all(Array.from({ length: 45 }, () => hub.request('GET', '/api/v1/devices')));
    const elapsed = Date.now() - started;
    const refused = burst.filter((r) => r.status === 429);
    assert.deepEqual([...new Set(burst.map((r) => r.status))].filter((s) => s !== 401 && s !== 429), [], 'only 401 (no credential) and 429');
    // 30 at once, then one every 500 ms
    assert.ok(burst.length - refused.length <= 30 + Math.ceil(elapsed / 500), `${burst.length - refused.length} answered in ${elapsed} ms`);
    assert.ok(refused.length > 0);
    for (const r of refused) {
      assert.deepEqual(r.body, { error: { code: 'rate_limited', message: 'too many requests; try again later' } });
      assert.match(String(r.headers['retry-after']), /^[1-9]\d*$/);
    }

    // a valid user certificate from the same address waits like anyone: the limit comes before any credential
    const drained = await hub.request('GET', '/api/v1/devices', undefined, {}, alice);
    assert.equal(drained.status, 429);
    await sleep(Number(drained.headers['retry-after']) * 1000);
    const refilled = await hub.request('GET', '/api/v1/devices', undefined, {}, alice);
    assert.equal(refilled.status, 200, refilled.text);
    assert.deepEqual(refilled.body, { devices: [] });
  });

  it('failed authentications are audited by address, at most once per 10 s, with the key id tried', async () => {
    const id = /^pk_([a-z0-9]{12})_/.exec(apiKey)![1]!;
    for (let i = 0; i < 4; i++) {
      const r = await hub.request('GET', '/api/v1/devices', undefined, { authorization: `Bearer pk_${id}_${'1'.repeat(64)}` }, undefined, { localAddress: '127.0.0.99' });
      assert.equal(r.status, 401);
    }
    await new Promise((r) => setTimeout(r, 400)); // the audit log is written in batches
    const rows = hub.query<{ actor: string; user_id: number | null; detail: string }>("SELECT * FROM audit_log WHERE action = 'api.refused' AND actor = 'remote:127.0.0.99'");
    assert.equal(rows.length, 1, `${rows.length} entries`);
    assert.equal(rows[0]!.user_id, null);
    const d = JSON.parse(rows[0]!.detail) as { path: string; reason: string; key?: string };
    assert.deepEqual(d, { path: '/api/v1/devices', reason: 'unknown or revoked API key', key: id });
  });
});
