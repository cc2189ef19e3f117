// WebSocket framing of what the hub sends over /mqtt, seen by a raw `ws` client speaking MQTT with
// mqtt-packet: every packet whole in one frame (one frame may carry several), never a frame per chunk.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { IConnackPacket, IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { TestHub } from '../../helpers/hub.js';
import { connect, end, publish } from '../../helpers/mqtt.js';
import { stats } from '../../helpers/payloads.js';
import { waitFor } from '../../helpers/process.js';
import { RawMqtt } from '../../helpers/raw-mqtt.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

let hub: TestHub;
let A: Tenant;
before(async () => {
  hub = await TestHub.start();
  A = await addTenant(hub, 'alice', ['pi-a1']);
});
after(async () => { await hub?.stop(); });

it('CONNACK, SUBACK and each delivered PUBLISH come as one frame each; a burst never splits a packet', async () => {
  const raw = await RawMqtt.open(hub, A.user, 'wss');
  const pi = await connect(hub, device(A, 'pi-a1'), { transport: 'mqtts', clientId: 'pi-a1' });
  try {
    assert.equal((await raw.connect({ clientId: 'frames' })).returnCode, 0);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/#', qos: 1 }] });
    const suback = await raw.next<ISubackPacket>('suback');
    assert.deepEqual(suback.granted, [1]);
    assert.deepEqual(raw.frames.map((f) => f.packets), [['connack'], ['suback']]);

    // one message at a time: one frame per PUBLISH, holding exactly it
    for (let i = 0; i < 5; i++) {
      await publish(pi, 'devices/pi-a1/stats', stats(i / 10));
      const m = await raw.next<IPublishPacket>('publish');
      assert.equal(m.topic, 'devices/pi-a1/stats');
      raw.send({ cmd: 'puback', messageId: m.messageId! });
    }
    const single = raw.frames.slice(2);
    assert.deepEqual(single.map((f) => [f.packets, f.whole]), Array(5).fill([['publish'], true]));

    // a burst: frames may carry several packets, but only whole ones, and never more frames than packets
    const from = raw.frames.length;
    const n = 200;
    await Promise.all(Array.from({ length: n }, (_, i) => publish(pi, 'devices/pi-a1/stats', stats(i), { qos: 0 })));
    await waitFor(() => raw.frames.slice(from).reduce((k, f) => k + f.packets.length, 0) >= n, 5_000, `${n} publishes`);
    const burst = raw.frames.slice(from);
    assert.ok(burst.every((f) => f.whole), 'a frame held a partial packet');
    assert.equal(burst.reduce((k, f) => k + f.packets.length, 0), n);
    assert.ok(burst.length <= n, `${burst.length} frames for ${n} packets`);
  } finally {
    raw.close();
    await end(pi);
  }
});

it('a refused CONNECT gets its CONNACK in one frame too', async () => {
  const raw = await RawMqtt.open(hub, null, 'wss');
  try {
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'nobody', keepalive: 30 });
    const ack = await raw.next<IConnackPacket>('connack');
    assert.equal(ack.returnCode, 5);
    assert.deepEqual(raw.frames.map((f) => [f.packets, f.whole]), [[['connack'], true]]);
    await raw.waitClosed();
  } finally {
    raw.close();
  }
});
