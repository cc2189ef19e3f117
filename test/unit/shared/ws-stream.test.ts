// shared/ws-stream.ts against a real `ws` pair on 127.0.0.1: how many WebSocket frames an MQTT packet
// written by mqtt-packet (as aedes and mqtt.js write them) becomes — with the stock
// createWebSocketStream, and with the coalescing stream.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import WebSocket, { WebSocketServer, createWebSocketStream } from 'ws';
import { coalescingWebSocketStream } from '../../../shared/ws-stream.js';
import { countWholePackets } from '../../helpers/raw-mqtt.js';
import { withTimeout } from '../../helpers/process.js';

let wss: WebSocketServer;
before(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
});
after(() => new Promise<void>((resolve) => wss.close(() => resolve())));

interface Pair { server: Duplex; frames: Array<{ data: Buffer; binary: boolean }>; client: WebSocket; close(): void }

/** A connection whose server end is wrapped by `wrap`; the client records every frame it receives. */
async function pair(wrap: (ws: WebSocket) => Duplex): Promise<Pair> {
  const serverSide = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate: false });
  const frames: Pair['frames'] = [];
  client.on('message', (data: Buffer, binary: boolean) => frames.push({ data, binary }));
  const [ws] = await withTimeout(serverSide, 3_000, 'connection');
  await withTimeout(once(client, 'open'), 3_000, 'open');
  const server = wrap(ws);
  server.on('error', () => {});
  return { server, frames, client, close: () => { client.terminate(); ws.terminate(); } };
}

const publish = (i: number, payload: Buffer = Buffer.from(`{"v":1,"n":${i}}`)): IPublishPacket => ({
  cmd: 'publish', topic: `devices/pi-${i}/stats`, payload, qos: 1, messageId: i + 1, retain: false, dup: false,
});

/** Writes packets the way aedes does (mqtt-packet's writeToStream: several writes, corked) and waits for `frames` to settle. */
async function send(p: Pair, packets: IPublishPacket[], expectBytes: number): Promise<void> {
  for (const packet of packets) mqttPacket.writeToStream(packet, p.server);
  await withTimeout((async () => {
    while (p.frames.reduce((n, f) => n + f.data.length, 0) < expectBytes) await new Promise((r) => setTimeout(r, 5));
  })(), 3_000, `${expectBytes} bytes`);
}

const bytesOf = (packets: IPublishPacket[]) => Buffer.concat(packets.map((x) => mqttPacket.generate(x)));

describe('coalescingWebSocketStream', () => {
  it('sends one PUBLISH as exactly one binary frame holding exactly that packet', async () => {
    const p = await pair((ws) => coalescingWebSocketStream(ws));
    try {
      const packets = [publish(1)];
      await send(p, packets, bytesOf(packets).length);
      assert.equal(p.frames.length, 1);
      assert.equal(p.frames[0]!.binary, true);
      assert.deepEqual(p.frames[0]!.data, bytesOf(packets));
    } finally {
      p.close();
    }
  });

  it('packs packets written in one tick into one frame, whole', async () => {
    const p = await pair((ws) => coalescingWebSocketStream(ws));
    try {
      const packets = [publish(1), publish(2), publish(3)];
      await send(p, packets, bytesOf(packets).length);
      assert.equal(p.frames.length, 1);
      assert.equal(countWholePackets(p.frames[0]!.data), 3);
      assert.deepEqual(p.frames[0]!.data, bytesOf(packets));
    } finally {
      p.close();
    }
  });

  it('never splits a packet across frames, however the writes interleave (a large payload, a burst)', async () => {
    const p = await pair((ws) => coalescingWebSocketStream(ws));
    try {
      const packets = [publish(0, Buffer.alloc(100_000, 7)), ...Array.from({ length: 300 }, (_, i) => publish(i + 1))];
      for (const [i, packet] of packets.entries()) {
        mqttPacket.writeToStream(packet, p.server);
        if (i % 37 === 0) await new Promise((r) => setImmediate(r)); // let some writes go out while others queue
      }
      const total = bytesOf(packets).length;
      await withTimeout((async () => {
        while (p.frames.reduce((n, f) => n + f.data.length, 0) < total) await new Promise((r) => setTimeout(r, 5));
      })(), 5_000, 'all bytes');
      const counts = p.frames.map((f) => countWholePackets(f.data));
      assert.ok(counts.every((n) => n !== null && n >= 1), `a frame held a partial packet: ${JSON.stringify(counts)}`);
      assert.equal(counts.reduce((a, b) => a! + b!, 0), packets.length);
      assert.ok(p.frames.length < packets.length, `${p.frames.length} frames for ${packets.length} packets`);
      assert.deepEqual(Buffer.concat(p.frames.map((f) => f.data)), bytesOf(packets));
    } finally {
      p.close();
    }
  });

  it('still reads what the peer sends', async () => {
    const p = await pair((ws) => coalescingWebSocketStream(ws));
    try {
      const got = once(p.server, 'data') as Promise<[Buffer]>;
      p.client.send(mqttPacket.generate({ cmd: 'pingreq' }));
      const [data] = await withTimeout(got, 3_000, 'data');
      assert.deepEqual(data, Buffer.from([0xc0, 0x00]));
    } finally {
      p.close();
    }
  });
});

describe('the stock createWebSocketStream, for comparison', () => {
  it('sends one PUBLISH as several frames (one per chunk mqtt-packet writes)', async () => {
    const p = await pair((ws) => createWebSocketStream(ws));
    try {
      const packets = [publish(1)];
      await send(p, packets, bytesOf(packets).length);
      assert.ok(p.frames.length >= 4, `${p.frames.length} frames`);
      assert.equal(countWholePackets(p.frames[0]!.data), null, 'the first frame is only a piece of the packet');
      assert.deepEqual(Buffer.concat(p.frames.map((f) => f.data)), bytesOf(packets));
    } finally {
      p.close();
    }
  });
});
