// A client that stops reading must not hold up anyone else's messages. aedes's deliveries waited for
// each client's 'drain', and its router waits for every delivery of a message with at most 100
// messages in flight: one user's client that stopped reading stalled routing for every user for 60 s.
// Now the hub keeps what such a client does not read: QoS 0 messages beyond 1 MiB are dropped for it,
// and beyond 8 MiB it is closed.
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import mqttPacket from 'mqtt-packet';
import WebSocket from 'ws';
import { TestHub } from '../../helpers/hub.js';
import { type Transport, connect, connectCollector, end, granted } from '../../helpers/mqtt.js';
import { sleep, withTimeout } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

let hub: TestHub;
let A: Tenant;
let B: Tenant;

before(async () => {
  hub = await TestHub.start();
  A = await addTenant(hub, 'alice', ['pa']);
  B = await addTenant(hub, 'bob', ['pb']);
});
after(async () => { await hub?.stop(); });

/** Alice's client that subscribes to everything of hers and then never reads again. */
async function greedy(transport: Transport): Promise<{ closed: Promise<void>; resume(): void; destroy(): void }> {
  const packets = [
    mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `greedy-${transport}`, keepalive: 0 }),
    mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/#', qos: 1 }] }),
  ];
  const creds = { ca: hub.caPem, servername: 'localhost', key: A.user.key, cert: A.user.cert };
  if (transport === 'mqtts') {
    const socket = tls.connect({ host: '127.0.0.1', port: hub.mqttsPort, ...creds });
    await withTimeout(new Promise((r) => socket.once('secureConnect', r)), 5_000, 'TLS');
    for (const p of packets) socket.write(p);
    await sleep(300);
    socket.pause();
    return { closed: new Promise((r) => socket.once('close', () => r())), resume: () => { socket.resume(); }, destroy: () => socket.destroy() };
  }
  const ws = new WebSocket(hub.wssUrl, ['mqtt'], { ...creds, perMessageDeflate: false });
  await withTimeout(new Promise((r) => ws.once('open', r)), 5_000, 'WebSocket');
  for (const p of packets) ws.send(p);
  await sleep(300);
  const raw = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  raw.pause();
  return { closed: new Promise((r) => ws.once('close', () => r())), resume: () => raw.resume(), destroy: () => ws.terminate() };
}

for (const transport of ['mqtts', 'wss'] as Transport[]) {
  describe(`a client that stops reading, over ${transport}`, () => {
    it("does not hold up another user's messages; QoS 0 beyond 1 MiB is dropped for it, and 8 MiB of QoS 1 close it", async () => {
      const g = await greedy(transport);
      const pa = await connect(hub, device(A, 'pa'), { transport: 'mqtts', clientId: 'pa' });
      const bob = await connectCollector(hub, B.user, { transport: 'wss' });
      const pb = await connect(hub, device(B, 'pb'), { transport: 'mqtts', clientId: 'pb' });
      const closedLine = new RegExp(`client does not read what it is sent, connection closed .*client=u/\\d+/greedy-${transport}`);
      const bobsStats = async () => {
        const t0 = Date.now();
        pb.publish('devices/pb/stats', JSON.stringify({ v: 1, ts: t0, cpu: { load: 1 }, mem: { total: 1, used: 1 }, disk: [], net: [], uptimeSec: 1 }), { qos: 0 });
        await bob.live('devices/pb/stats', 5_000, (m) => JSON.parse(m.payload).ts === t0);
        return Date.now() - t0;
      };
      try {
        await granted(bob.client, ['devices/pb/stats']);
        // 12 MB of QoS 0 for the greedy client, in messages the hub forwards without parsing (stats under 32 KiB)
        const filler = Buffer.alloc(30_000, 0x20);
        for (let i = 0; i < 400; i++) pa.publish('devices/pa/stats', filler, { qos: 0 });
        await sleep(500);
        const waited = await bobsStats();
        assert.ok(waited < 2_000, `bob waited ${waited} ms`);
        assert.equal(hub.daemon.output.some((l) => closedLine.test(l)), false, 'QoS 0 alone does not get it closed: it is dropped');
        // 12 MB of QoS 1: kept for it, up to 8 MiB, then it is closed
        for (let i = 0; i < 400; i++) pa.publish('devices/pa/stats', filler, { qos: 1 });
        await hub.daemon.waitForLine(closedLine, 10_000, 0);
        assert.ok(await bobsStats() < 2_000);
        // a paused socket sees no end: once it reads again, it finds the hub gone
        g.resume();
        await withTimeout(g.closed, 10_000, 'the connection to close');
      } finally {
        g.destroy();
        await end(pa, pb, bob.client);
      }
    });
  });
}
