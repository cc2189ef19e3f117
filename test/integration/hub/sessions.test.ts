// Sessions through the real hub, over wss and mqtts: unsubscribe, persistent sessions restored
// without a second mount prefix, the offline queue, and client-id takeover across users.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { IConnackPacket } from 'mqtt-packet';
import { TestHub } from '../../helpers/hub.js';
import { type Collector, type ConnectOptions, type Transport, connackOf, connectCollector, end, granted, publish } from '../../helpers/mqtt.js';
import { stats, status } from '../../helpers/payloads.js';
import { sleep, waitFor, withTimeout } from '../../helpers/process.js';
import { RawMqtt } from '../../helpers/raw-mqtt.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

let hub: TestHub;
let A: Tenant;
let B: Tenant;

before(async () => {
  hub = await TestHub.start();
  A = await addTenant(hub, 'alice', ['pi-a1']);
  B = await addTenant(hub, 'bob', ['pi-b1']);
});
after(async () => { await hub?.stop(); });

/** Fails if the client's connection closes while `during` runs. */
async function staysConnected(c: MqttClient, what: string, during: () => Promise<void>): Promise<void> {
  let lost = false;
  const onClose = () => { lost = true; };
  c.on('close', onClose);
  try {
    await during();
  } finally {
    c.off('close', onClose);
  }
  assert.equal(lost, false, `${what} lost its connection`);
  assert.equal(c.connected, true, `${what} is connected`);
}

const load = (payload: string): number => JSON.parse(payload).cpu.load;
const unsubscribe = (c: MqttClient, f: string) => withTimeout(c.unsubscribeAsync(f), 3_000, `unsubscribe ${f}`);

for (const transport of ['wss', 'mqtts'] as Transport[]) {
  describe(`over ${transport}`, () => {
    const clients: MqttClient[] = [];
    const open = async (creds: { key: string; cert: string }, o: ConnectOptions = {}): Promise<Collector> => {
      const c = await connectCollector(hub, creds, { transport, ...o });
      clients.push(c.client);
      return c;
    };
    const pi = async () => (await open(device(A, 'pi-a1'), { clientId: 'pi-a1' })).client;
    after(async () => { await end(...clients); });
    const tag = (s: string) => `${s}-${transport}`;

    it('unsubscribe stops delivery', async () => {
      const a = await open(A.user);
      await granted(a.client, ['devices/pi-a1/stats', 'devices/pi-a1/status']);
      const d = await pi();
      await publish(d, 'devices/pi-a1/stats', stats(0.1));
      await a.live('devices/pi-a1/stats');
      await unsubscribe(a.client, 'devices/pi-a1/stats');
      await publish(d, 'devices/pi-a1/stats', stats(0.2));
      await publish(d, 'devices/pi-a1/status', status()); // still subscribed: the barrier
      await a.live('devices/pi-a1/status');
      await sleep(150);
      assert.deepEqual(a.liveMessages.map((m) => [m.topic, m.topic.endsWith('stats') ? load(m.payload) : null]), [
        ['devices/pi-a1/stats', 0.1],
        ['devices/pi-a1/status', null],
      ]);
    });

    it('a restored persistent session is not mounted twice: messages still arrive, with the stripped topic', async () => {
      const id = tag('alice-persistent');
      const first = await open(A.user, { clientId: id, clean: false });
      assert.equal(connackOf(first.client).sessionPresent, false);
      await granted(first.client, ['devices/pi-a1/stats']);
      await end(first.client);
      const d = await pi();
      // new connections, no SUBSCRIBE: the hub restores the stored subscription, twice in a row
      for (const value of [0.3, 0.4]) {
        const c = await open(A.user, { clientId: id, clean: false });
        assert.equal(connackOf(c.client).sessionPresent, true, 'the session was restored');
        await publish(d, 'devices/pi-a1/stats', stats(value));
        await c.live('devices/pi-a1/stats', 5_000, (m) => load(m.payload) === value);
        // everything, including a QoS 1 redelivery of an earlier message, comes with the stripped topic
        assert.deepEqual([...new Set(c.messages.map((m) => m.topic))], ['devices/pi-a1/stats']);
        await end(c.client);
      }
      // unsubscribing with the topic the client knows removes the stored subscription
      const c = await open(A.user, { clientId: id, clean: false });
      await unsubscribe(c.client, 'devices/pi-a1/stats');
      await end(c.client);
      const c3 = await open(A.user, { clientId: id, clean: false });
      assert.equal(connackOf(c3.client).sessionPresent, false, 'no subscription left');
      await granted(c3.client, ['devices/pi-a1/status']);
      await publish(d, 'devices/pi-a1/stats', stats(0.5));
      await publish(d, 'devices/pi-a1/status', status());
      await c3.live('devices/pi-a1/status');
      await sleep(150);
      assert.deepEqual(c3.liveMessages.map((m) => m.topic), ['devices/pi-a1/status']);
      await unsubscribe(c3.client, 'devices/pi-a1/status');
    });

    it('a QoS 1 message queued for an offline persistent client arrives on reconnect, topic stripped', async () => {
      const id = tag('alice-offline');
      const first = await open(A.user, { clientId: id, clean: false });
      await granted(first.client, ['devices/pi-a1/stats'], 1);
      await end(first.client);
      const d = await pi();
      await publish(d, 'devices/pi-a1/stats', stats(0.6), { qos: 1 });
      await publish(d, 'devices/pi-a1/stats', stats(0.7), { qos: 1 });
      const c = await open(A.user, { clientId: id, clean: false });
      await waitFor(() => c.messages.length >= 2, 5_000, 'the queued messages');
      assert.deepEqual(c.messages.map((m) => ({ topic: m.topic, load: load(m.payload), qos: m.qos })), [
        { topic: 'devices/pi-a1/stats', load: 0.6, qos: 1 },
        { topic: 'devices/pi-a1/stats', load: 0.7, qos: 1 },
      ]);
      await unsubscribe(c.client, 'devices/pi-a1/stats');
    });

    it("B taking A's client ids takes over nothing: A keeps its connections and B gets nothing of A's", async () => {
      const id = tag('dashboard');
      const a = await open(A.user, { clientId: id });
      await granted(a.client, ['devices/#']);
      const d = await open(device(A, 'pi-a1'), { clientId: 'pi-a1' });
      await granted(d.client, ['devices/pi-a1/cmd/req']);
      const stolen: Collector[] = [];
      await staysConnected(a.client, "A's user client", () => staysConnected(d.client, "A's device", async () => {
        // every client id A uses, and the hub's internal spellings of them, clean and persistent
        // (B's persistent connection takes over B's clean one: B's own session, B's business)
        for (const cid of [id, 'pi-a1', `u/${A.id}/${id}`, `d/${A.id}/pi-a1`]) {
          for (const clean of [true, false]) {
            const b = await open(B.user, { clientId: cid, clean });
            assert.equal(connackOf(b.client).sessionPresent, false, `B connecting as ${cid} (clean=${clean}) found no session`);
            stolen.push(b);
          }
        }
        await sleep(200);
      }));
      assert.equal(stolen.filter((b) => b.client.connected).length, 4);
      for (const b of stolen) if (b.client.connected) await granted(b.client, ['devices/#']);
      await publish(d.client, 'devices/pi-a1/stats', stats(0.8));
      await publish(a.client, 'devices/pi-a1/cmd/req', { v: 1, id: 'takeover-1', module: 'core', command: 'reboot' });
      assert.equal(load((await a.live('devices/pi-a1/stats')).payload), 0.8);
      assert.equal(JSON.parse((await d.live('devices/pi-a1/cmd/req')).payload).id, 'takeover-1');
      await sleep(150);
      for (const b of stolen) assert.deepEqual(b.liveMessages, []);
    });

    it("B connecting persistently with A's client id inherits neither A's subscriptions nor A's queued messages", async () => {
      const id = tag('alice-queue');
      const first = await open(A.user, { clientId: id, clean: false });
      await granted(first.client, ['devices/#'], 1);
      await end(first.client);
      const d = await pi();
      await publish(d, 'devices/pi-a1/stats', stats(0.9), { qos: 1 });
      const b = await open(B.user, { clientId: id, clean: false });
      assert.equal(connackOf(b.client).sessionPresent, false);
      await publish(d, 'devices/pi-a1/stats', stats(0.95), { qos: 1 });
      await sleep(300);
      assert.deepEqual(b.messages, []);
      await end(b.client);
      // A's session is intact: both messages wait for A
      const a = await open(A.user, { clientId: id, clean: false });
      assert.equal(connackOf(a.client).sessionPresent, true);
      await waitFor(() => a.messages.length >= 2, 5_000, "A's queued messages");
      assert.deepEqual(a.messages.map((m) => load(m.payload)), [0.9, 0.95]);
      await unsubscribe(a.client, 'devices/#');
    });

    it("two of one user's clients with empty client ids do not take each other over [MQTT-3.1.3-6]", async () => {
      const one = await open(A.user, { clientId: '' });
      await granted(one.client, ['devices/pi-a1/stats']);
      let two: Collector | undefined;
      await staysConnected(one.client, 'the first client with an empty client id', async () => {
        two = await open(A.user, { clientId: '' });
        await sleep(300);
      });
      await granted(two!.client, ['devices/pi-a1/stats']);
      await publish(await pi(), 'devices/pi-a1/stats', stats(0.15));
      await one.live('devices/pi-a1/stats');
      await two!.live('devices/pi-a1/stats');
    });

    it('an empty client id with a persistent session is refused with CONNACK 2 [MQTT-3.1.3-8]', async () => {
      const raw = await RawMqtt.open(hub, A.user, transport);
      try {
        // mqtt-packet will not generate it: CONNECT, MQTT level 4, flags 0 (no clean session), keepalive 30, client id ""
        raw.sendRaw(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 30, 0, 0]));
        const ack = await raw.next<IConnackPacket>('connack');
        assert.equal(ack.returnCode, 2); // identifier rejected
        await raw.waitClosed();
      } finally {
        raw.close();
      }
    });
  });
}
