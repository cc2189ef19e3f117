// The agent's own WebSocket writes: each batch of MQTT packets is one frame, never one frame per
// chunk (mqtt-packet writes a PUBLISH in about five). A real TLS WebSocket server, speaking MQTT with
// mqtt-packet, counts what the agent's MqttLink sends.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { WebSocketServer } from 'ws';
import { MqttLink } from '../../../agent/mqtt-link.js';
import { createLogger } from '../../../shared/log.js';
import { TestHub } from '../../helpers/hub.js';
import { foreignCa, signLeaf } from '../../helpers/pki.js';
import { waitFor, withTimeout } from '../../helpers/process.js';

interface Frame { packets: string[]; whole: boolean }

let hub: TestHub;
let server: https.Server;
const frames: Frame[] = [];

before(async () => {
  hub = await TestHub.start(); // for its CA, server certificate and a device certificate
  const tlsDir = join(hub.dataDir, 'tls');
  server = https.createServer({ key: readFileSync(join(tlsDir, 'server.key')), cert: readFileSync(join(tlsDir, 'server.crt')), minVersion: 'TLSv1.3' });
  const wss = new WebSocketServer({ server, path: '/mqtt' });
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      const parser = mqttPacket.parser();
      const packets: Packet[] = [];
      parser.on('packet', (p) => packets.push(p));
      const left = parser.parse(data);
      frames.push({ packets: packets.map((p) => p.cmd), whole: left === 0 });
      for (const p of packets) {
        const reply = (r: object) => ws.send(mqttPacket.generate(r as Packet));
        if (p.cmd === 'connect') reply({ cmd: 'connack', returnCode: 0, sessionPresent: false });
        if (p.cmd === 'subscribe') reply({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map(() => 1) });
        if (p.cmd === 'publish' && p.qos === 1) reply({ cmd: 'puback', messageId: p.messageId });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
after(async () => {
  server.closeAllConnections();
  server.close();
  await hub.stop();
});

/** A link for a Pi newly enrolled with `user`, to a test server, subscribing as the agent does. */
async function linkTo(s: https.Server, user: string, serial: string): Promise<MqttLink> {
  await hub.addUser(user);
  const device = await hub.enrollDevice(await hub.apiKey(user), serial);
  return new MqttLink({
    url: `wss://localhost:${(s.address() as AddressInfo).port}/mqtt`,
    clientId: serial,
    credentials: () => ({ key: device.key, cert: device.cert, ca: device.ca }),
    will: { topic: `devices/${serial}/status`, payload: () => JSON.stringify({ v: 1, online: false, ts: Date.now() }) },
    reconnectMinMs: 100, reconnectMaxMs: 1000, refusedRetryMs: 60_000,
    log: createLogger('test-link', { write: () => true }),
    onConnect: async (c) => { await c.subscribeAsync(`devices/${serial}/cmd/req`, { qos: 1 }); },
  });
}

test('each PUBLISH the agent sends is one whole frame', async () => {
  const link = await linkTo(server, 'alice', 'pi-frames');
  const up = new Promise<void>((r) => link.once('up', () => r()));
  link.start();
  await withTimeout(up, 8_000, 'the link to come up (CONNACK)');
  for (let i = 0; i < 5; i++) await link.publish('devices/pi-frames/stats', JSON.stringify({ i, pad: 'x'.repeat(100) }), { qos: 1 });
  await waitFor(() => frames.filter((f) => f.packets.includes('publish')).length >= 5, 5_000, 'five publishes');
  await link.stop();
  assert.deepEqual(frames.slice(0, 2).map((f) => f.packets), [['connect'], ['subscribe']]);
  const publishes = frames.filter((f) => f.packets.includes('publish'));
  assert.deepEqual(publishes.map((f) => [f.packets, f.whole]), Array(5).fill([['publish'], true]));
  assert.ok(frames.every((f) => f.whole), 'a frame carried part of a packet');
});

test('a result the hub had not acknowledged when the Pi switched to renewed credentials is sent again by the new connection', { timeout: 60_000 }, async () => {
  // A server that never acknowledges a PUBLISH on the first connection, and drops that connection when
  // the second one arrives (as the hub does when a session is taken over).
  const tlsDir = join(hub.dataDir, 'tls');
  const holding = https.createServer({ key: readFileSync(join(tlsDir, 'server.key')), cert: readFileSync(join(tlsDir, 'server.crt')), minVersion: 'TLSv1.3' });
  const wss = new WebSocketServer({ server: holding, path: '/mqtt' });
  const received: Array<{ connection: number; topic: string }> = [];
  const sockets: Array<import('ws').WebSocket> = [];
  wss.on('connection', (ws) => {
    const connection = sockets.push(ws);
    if (connection === 2) sockets[0]!.terminate();
    const parser = mqttPacket.parser();
    parser.on('packet', (p) => {
      const reply = (r: object) => ws.send(mqttPacket.generate(r as Packet));
      if (p.cmd === 'connect') reply({ cmd: 'connack', returnCode: 0, sessionPresent: true });
      if (p.cmd === 'subscribe') reply({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map(() => 1) });
      if (p.cmd === 'publish') {
        received.push({ connection, topic: p.topic });
        if (connection > 1 && p.qos === 1) reply({ cmd: 'puback', messageId: p.messageId });
      }
    });
    ws.on('message', (data: Buffer) => parser.parse(data));
  });
  await new Promise<void>((r) => holding.listen(0, '127.0.0.1', r));
  let link: MqttLink | null = null;
  try {
    link = await linkTo(holding, 'bob', 'pi-switch');
    const started = link;
    const up = new Promise<void>((r) => started.once('up', () => r()));
    link.start();
    await withTimeout(up, 8_000, 'the link to come up (CONNACK)');
    const result = link.publish('devices/pi-switch/cmd/res/r1', JSON.stringify({ v: 1, id: 'r1' }), { qos: 1 });
    result.catch(() => {}); // its first client ends before an acknowledgement
    await waitFor(() => received.some((r) => r.connection === 1), 5_000, 'the result on the first connection');
    await withTimeout(link.switchCredentials(), 10_000, 'the switch'); // the old client's end waits, then gives up
    await waitFor(() => received.some((r) => r.connection === 2 && r.topic === 'devices/pi-switch/cmd/res/r1'), 5_000,
      'the unacknowledged result sent again on the new connection');
  } finally {
    for (const s of sockets) s.terminate();
    await withTimeout(link?.stop() ?? Promise.resolve(), 10_000, 'the link to stop').catch(() => {});
    holding.closeAllConnections();
    holding.close();
  }
});

test("every connection presents the Pi's certificate and checks the hub's against the pinned CA, with one TLS context for all", { timeout: 60_000 }, async () => {
  // A server that asks for a client certificate of the hub's CA and drops every connection after its
  // CONNECT: the link reconnects (new TLS connections, the same credentials).
  const tlsDir = join(hub.dataDir, 'tls');
  const ca = readFileSync(join(hub.dataDir, 'ca', 'root.crt'));
  const checking = https.createServer({
    key: readFileSync(join(tlsDir, 'server.key')), cert: readFileSync(join(tlsDir, 'server.crt')), minVersion: 'TLSv1.3',
    requestCert: true, rejectUnauthorized: true, ca: [ca, readFileSync(join(hub.dataDir, 'ca', 'issuing.crt'))],
  });
  const peers: string[] = [];
  checking.on('secureConnection', (s: import('node:tls').TLSSocket) => peers.push(String(s.getPeerCertificate().subject?.CN)));
  const wss = new WebSocketServer({ server: checking, path: '/mqtt' });
  wss.on('connection', (ws) => ws.on('message', () => ws.terminate()));
  await new Promise<void>((r) => checking.listen(0, '127.0.0.1', r));
  const contexts = new Set<unknown>();
  const tls = await import('node:tls');
  const made = tls.default.createSecureContext;
  let link: MqttLink | null = null;
  try {
    link = await linkTo(checking, 'carol', 'pi-ctx');
    tls.default.createSecureContext = (o) => { const c = made(o); contexts.add(c); return c; };
    link.start();
    await waitFor(() => peers.length >= 3, 10_000, 'three connections');
    assert.deepEqual(new Set(peers), new Set(['pi-ctx']), "each connection presented the Pi's certificate");
    assert.equal(contexts.size, 1, 'one TLS context for every reconnect');
  } finally {
    tls.default.createSecureContext = made;
    await withTimeout(link?.stop() ?? Promise.resolve(), 10_000, 'the link to stop').catch(() => {});
    checking.closeAllConnections();
    checking.close();
  }

  // A server whose certificate is not of the pinned CA: the link never comes up.
  const other = await foreignCa();
  const leaf = await signLeaf(other, { cn: 'localhost', sans: [{ type: 'dns', value: 'localhost' }], eku: ['1.3.6.1.5.5.7.3.1'] });
  const impostor = https.createServer({ key: leaf.key, cert: leaf.cert, minVersion: 'TLSv1.3' });
  let upgrades = 0;
  impostor.on('upgrade', (_req, socket) => { upgrades++; socket.destroy(); });
  const refused: string[] = [];
  impostor.on('tlsClientError', (err) => refused.push(err.message));
  await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
  let fooled: MqttLink | null = null;
  try {
    fooled = await linkTo(impostor, 'dave', 'pi-pinned');
    fooled.start();
    await waitFor(() => refused.length >= 2, 10_000, 'two refused handshakes');
    assert.equal(upgrades, 0, 'no WebSocket upgrade (no request) reached a hub of another CA');
    assert.equal(fooled.connected, false);
  } finally {
    await withTimeout(fooled?.stop() ?? Promise.resolve(), 10_000, 'the link to stop').catch(() => {});
    impostor.closeAllConnections();
    impostor.close();
  }
});
