// Issue 7, F1: one SUBSCRIBE must not freeze the hub. In a persistent session aedes 1.2 stored the
// whole filter list once per filter (n² work: 4,000 filters held the event loop 9.5 s). Now a packet's
// granted subscriptions are stored once, a SUBSCRIBE carries at most 64 filters (0x80 for each beyond,
// the connection closed beyond 1,024), a session holds at most 256, and a device gets exactly its two.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ISubackPacket } from 'mqtt-packet';
import { MAX_FILTERS_ANSWERED, MAX_FILTERS_PER_SUBSCRIBE, MAX_SUBSCRIPTIONS_PER_SESSION } from '../../../shared/limits.js';
import { TestHub } from '../../helpers/hub.js';
import { type Transport, connect, connectCollector, end, granted } from '../../helpers/mqtt.js';
import { sleep, waitFor } from '../../helpers/process.js';
import { RawMqtt } from '../../helpers/raw-mqtt.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

const REFUSED = 0x80;
let hub: TestHub;
let A: Tenant;

before(async () => {
  hub = await TestHub.start();
  A = await addTenant(hub, 'alice', ['pi-a1']);
});
after(async () => { await hub?.stop(); });

const filters = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ topic: `devices/${tag}${i}/status`, qos: 1 as const }));

/**
 * How much longer than before the slowest /api/v1/health round trip takes while `during` runs: the
 * same measure first on a quiet hub, so a machine busy with other work does not count against it.
 */
async function healthWhile(start: () => Promise<unknown>): Promise<number> {
  const quiet = await slowestHealth(Promise.resolve());
  return (await slowestHealth(start())) - quiet;
}

/**
 * The least of up to three tries of `attempt` (each on its own connection): one stall of the machine
 * (the CI box runs other work) must not fail the test, while the freeze this guards against (seconds,
 * on every try) still would.
 */
async function leastOfThree(attempt: () => Promise<number>): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 3 && least >= 200; i++) least = Math.min(least, await attempt());
  return least;
}

async function slowestHealth(during: Promise<unknown>): Promise<number> {
  let worst = 0;
  let done = false;
  void during.finally(() => { done = true; });
  for (let i = 0; i < 5 || !done; i++) {
    const t0 = performance.now();
    const r = await hub.request('GET', '/api/v1/health');
    assert.equal(r.status, 200);
    worst = Math.max(worst, performance.now() - t0);
    if (i > 50) break;
    await sleep(20);
  }
  await during;
  return worst;
}

let seq = 0;
async function persistent(transport: Transport, clientId = `f1-${transport}-${++seq}`): Promise<{ raw: RawMqtt; clientId: string }> {
  const raw = await RawMqtt.open(hub, A.user, transport);
  assert.equal((await raw.connect({ clientId, clean: false })).returnCode, 0);
  return { raw, clientId };
}

for (const transport of ['mqtts', 'wss'] as Transport[]) {
  describe(`over ${transport}`, () => {
    it('4,000 filters in one SUBSCRIBE of a persistent session: the hub keeps answering (/health under 200 ms) and closes that connection', async (t) => {
      const worst = await leastOfThree(async () => {
        const { raw } = await persistent(transport);
        const more = await healthWhile(async () => {
          raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters(4000, 'x') });
          await raw.waitClosed(5_000);
        });
        assert.equal(raw.closed, true);
        return more;
      });
      t.diagnostic(`slowest /health: ${worst.toFixed(1)} ms more than on a quiet hub`);
      assert.ok(worst < 200, `/health took ${worst.toFixed(0)} ms longer`);
      assert.ok(4000 > MAX_FILTERS_ANSWERED);
      // audited (at most once per 10 s per client, so over the second transport the first one's entry counts)
      await waitFor(() => hub.query("SELECT 1 FROM audit_log WHERE action = 'acl.subscribe.refused' AND detail LIKE '%4000 filters in one SUBSCRIBE; at most 64: connection closed%'").length > 0,
        3_000, 'the refusal in the audit log');
    });

    it('1,000 filters in one SUBSCRIBE: each refused with 0x80, quickly, the connection stays, and none is stored', async () => {
      let last: { raw: RawMqtt; clientId: string } | null = null;
      const worst = await leastOfThree(async () => {
        last?.raw.close();
        const { raw } = last = await persistent(transport);
        let suback: Promise<ISubackPacket> | null = null;
        const more = await healthWhile(async () => {
          raw.send({ cmd: 'subscribe', messageId: 2, subscriptions: filters(1000, 'y') });
          suback = raw.next<ISubackPacket>('suback', 5_000);
          await suback;
        });
        const codes = (await suback!).granted;
        assert.equal(codes.length, 1000);
        assert.ok(codes.every((c) => c === REFUSED));
        assert.equal(raw.closed, false);
        return more;
      });
      assert.ok(worst < 200, `/health took ${worst.toFixed(0)} ms longer`);
      const { raw, clientId } = last!;
      raw.close();
      // nothing was stored: the session resumes with no subscriptions (sessionPresent false)
      const again = await RawMqtt.open(hub, A.user, transport);
      assert.deepEqual(await again.connect({ clientId, clean: false }), { returnCode: 0, sessionPresent: false });
      again.close();
    });

    it(`${MAX_FILTERS_PER_SUBSCRIBE} filters in one SUBSCRIBE are granted, one more refuses them all`, async () => {
      const c = await connect(hub, A.user, { transport });
      try {
        assert.deepEqual(new Set(await granted(c, filters(MAX_FILTERS_PER_SUBSCRIBE, 'z').map((f) => f.topic))), new Set([1]));
        assert.deepEqual(new Set(await granted(c, filters(MAX_FILTERS_PER_SUBSCRIBE + 1, 'w').map((f) => f.topic))), new Set([REFUSED]));
      } finally { await end(c); }
    });

    it(`a session holds at most ${MAX_SUBSCRIPTIONS_PER_SESSION} filters, also once resumed; an unsubscribe frees a place`, async () => {
      const { raw, clientId } = await persistent(transport);
      const codes: number[] = [];
      for (let p = 0; p < 5; p++) {
        raw.send({ cmd: 'subscribe', messageId: 10 + p, subscriptions: filters(64, `s${p}-`) });
        codes.push(...((await raw.next<ISubackPacket>('suback')).granted as number[]));
      }
      assert.equal(codes.filter((c) => c === 1).length, MAX_SUBSCRIPTIONS_PER_SESSION);
      assert.deepEqual(codes.slice(MAX_SUBSCRIPTIONS_PER_SESSION), Array(64).fill(REFUSED));
      // subscribing again to a filter it holds is no new one
      raw.send({ cmd: 'subscribe', messageId: 20, subscriptions: [{ topic: 'devices/s0-0/status', qos: 1 }] });
      assert.deepEqual((await raw.next<ISubackPacket>('suback')).granted, [1]);
      raw.close();

      const again = await RawMqtt.open(hub, A.user, transport);
      assert.deepEqual(await again.connect({ clientId, clean: false }), { returnCode: 0, sessionPresent: true });
      again.send({ cmd: 'subscribe', messageId: 21, subscriptions: [{ topic: 'devices/new/status', qos: 1 }] });
      assert.deepEqual((await again.next<ISubackPacket>('suback')).granted, [REFUSED]);
      again.send({ cmd: 'unsubscribe', messageId: 22, unsubscriptions: ['devices/s0-0/status'] });
      await again.next('unsuback');
      again.send({ cmd: 'subscribe', messageId: 23, subscriptions: [{ topic: 'devices/new/status', qos: 1 }] });
      assert.deepEqual((await again.next<ISubackPacket>('suback')).granted, [1]);
      again.close();
    });

    it('subscriptions are granted at most QoS 1, and a QoS 2 publish is delivered at QoS 1', async () => {
      const c = await connectCollector(hub, A.user, { transport });
      const pi = await connect(hub, device(A, 'pi-a1'), { transport, clientId: 'pi-a1' });
      try {
        assert.deepEqual(await granted(c.client, ['devices/pi-a1/status'], 2 as 1), [1]);
        await pi.publishAsync('devices/pi-a1/status', JSON.stringify({ v: 1, online: true, ts: Date.now() }), { qos: 2 });
        const m = await c.live('devices/pi-a1/status');
        assert.equal(m.qos, 1);
      } finally { await end(c.client, pi); }
    });

    it('a QoS 0 subscription gets QoS 1 messages at QoS 0, retained and live [MQTT-3.8.4-6]', async () => {
      const c = await connectCollector(hub, A.user, { transport });
      const pi = await connect(hub, device(A, 'pi-a1'), { transport, clientId: 'pi-a1' });
      try {
        await pi.publishAsync('devices/pi-a1/status', JSON.stringify({ v: 1, online: true, ts: 1 }), { qos: 1, retain: true });
        assert.deepEqual(await granted(c.client, ['devices/pi-a1/status'], 0), [0]);
        const kept = await c.next('devices/pi-a1/status', 5_000, 0, (m) => m.retain);
        await pi.publishAsync('devices/pi-a1/status', JSON.stringify({ v: 1, online: true, ts: 2 }), { qos: 1 });
        const m = await c.live('devices/pi-a1/status');
        assert.deepEqual([kept.qos, m.qos], [0, 0]);
      } finally { await end(c.client, pi); }
    });

    it('a device may subscribe to exactly its two filters, not to narrower ones within them', async () => {
      const c = await connect(hub, device(A, 'pi-a1'), { transport, clientId: 'pi-a1' });
      try {
        const asked = ['devices/pi-a1/cmd/req', 'devices/pi-a1/gpio/+/set', 'devices/pi-a1/gpio/17/set', 'devices/pi-a1/gpio/18/set'];
        assert.deepEqual(await granted(c, asked), [1, 1, REFUSED, REFUSED]);
      } finally { await end(c); }
    });
  });
}
