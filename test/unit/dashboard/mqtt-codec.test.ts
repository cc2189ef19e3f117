// The dashboard's own MQTT codec against mqtt-packet (the hub's): what the page writes, mqtt-packet
// reads as meant; what mqtt-packet writes, the page reads — whole, several in one frame, or split
// anywhere across frames, with remaining lengths of one to four bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqttPacket, { type Packet as MqttPacket } from 'mqtt-packet';
import * as codec from '../../../broker/dashboard/src/mqtt/codec.js';

function parse(bytes: Uint8Array): MqttPacket[] {
  const out: MqttPacket[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p: MqttPacket) => out.push(p));
  parser.on('error', (e: Error) => { throw e; });
  parser.parse(Buffer.from(bytes));
  return out;
}

const pick = (p: MqttPacket, keys: string[]) => Object.fromEntries(keys.map((k) => [k, (p as unknown as Record<string, unknown>)[k]]));

describe('what the page writes', () => {
  const big = new Uint8Array(300_000).fill(0x61);
  const rows: Array<[string, Uint8Array, string[], Record<string, unknown>]> = [
    ['CONNECT, clean session, keep-alive 60', codec.connect('page-abc', 60), ['cmd', 'protocolId', 'protocolVersion', 'clean', 'keepalive', 'clientId', 'username', 'password'],
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'page-abc', username: undefined, password: undefined }],
    ['SUBSCRIBE devices/# at QoS 1', codec.subscribe(7, [{ topic: 'devices/#', qos: 1 }]), ['cmd', 'messageId', 'subscriptions'],
      { cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'devices/#', qos: 1 }] }],
    ['PUBLISH QoS 1', codec.publish('devices/pi-1/cmd/req', new TextEncoder().encode('{"v":1}'), 1, 513), ['cmd', 'topic', 'qos', 'messageId', 'retain'],
      { cmd: 'publish', topic: 'devices/pi-1/cmd/req', qos: 1, messageId: 513, retain: false }],
    ['PUBLISH QoS 0, a non-ASCII topic', codec.publish('devices/ü/stats', new Uint8Array([1, 2]), 0, 0), ['cmd', 'topic', 'qos', 'messageId'],
      { cmd: 'publish', topic: 'devices/ü/stats', qos: 0, messageId: undefined }],
    ['PUBLISH with a 3-byte remaining length', codec.publish('t', big, 1, 1), ['cmd', 'topic', 'messageId'], { cmd: 'publish', topic: 't', messageId: 1 }],
    ['PUBACK', codec.puback(65535), ['cmd', 'messageId'], { cmd: 'puback', messageId: 65535 }],
    ['PINGREQ', codec.pingreq(), ['cmd'], { cmd: 'pingreq' }],
    ['DISCONNECT', codec.disconnect(), ['cmd'], { cmd: 'disconnect' }],
  ];
  for (const [name, bytes, keys, want] of rows) {
    it(name, () => {
      const got = parse(bytes);
      assert.equal(got.length, 1);
      assert.deepEqual(pick(got[0]!, keys), want);
    });
  }
  it('the payload arrives whole', () => {
    const p = parse(codec.publish('t', big, 1, 1))[0] as unknown as { payload: Buffer };
    assert.equal(p.payload.length, big.length);
    assert.ok(p.payload.every((b) => b === 0x61));
  });
});

describe('what the page reads', () => {
  const payload = (n: number) => Buffer.alloc(n, 0x62);
  const sizes = [0, 1, 120, 128, 16_380, 16_384, 2_097_152];
  const packets: Array<[string, Buffer, (p: codec.Packet) => void]> = [
    ['CONNACK accepted', mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }), (p) => assert.deepEqual(p, { type: 'connack', returnCode: 0 })],
    ['CONNACK refused', mqttPacket.generate({ cmd: 'connack', returnCode: 5, sessionPresent: false }), (p) => assert.deepEqual(p, { type: 'connack', returnCode: 5 })],
    ['SUBACK with a refusal', mqttPacket.generate({ cmd: 'suback', messageId: 9, granted: [1, 128] }), (p) => assert.deepEqual(p, { type: 'suback', id: 9, granted: [1, 128] })],
    ['PUBACK', mqttPacket.generate({ cmd: 'puback', messageId: 300 }), (p) => assert.deepEqual(p, { type: 'puback', id: 300 })],
    ['PINGRESP', mqttPacket.generate({ cmd: 'pingresp' }), (p) => assert.deepEqual(p, { type: 'pingresp' })],
    ...sizes.map((n): [string, Buffer, (p: codec.Packet) => void] => [
      `PUBLISH QoS 1 retained, ${n} bytes`,
      mqttPacket.generate({ cmd: 'publish', topic: 'devices/pi-1/manifest', payload: payload(n), qos: 1, messageId: 42, retain: true, dup: false }),
      (p) => {
        assert.equal(p.type, 'publish');
        const x = p as Extract<codec.Packet, { type: 'publish' }>;
        assert.deepEqual([x.topic, x.qos, x.id, x.retain, x.payload.length], ['devices/pi-1/manifest', 1, 42, true, n]);
        assert.ok(x.payload.every((b) => b === 0x62));
      },
    ]),
    ['PUBLISH QoS 0', mqttPacket.generate({ cmd: 'publish', topic: 'devices/pi-1/stats', payload: Buffer.from('{}'), qos: 0, retain: false, dup: false }),
      (p) => assert.deepEqual({ ...p, payload: [...(p as { payload: Uint8Array }).payload] }, { type: 'publish', topic: 'devices/pi-1/stats', payload: [0x7b, 0x7d], qos: 0, retain: false, id: 0 })],
  ];

  /** A packet with its payload's length and first, middle and last bytes instead of all of them. */
  const summary = (p: codec.Packet) => {
    if (p.type !== 'publish') return p;
    const b = p.payload;
    return { ...p, payload: [b.length, b[0], b[b.length >> 1], b[b.length - 1]] };
  };

  for (const [name, bytes, check] of packets) {
    it(`${name}: whole, and split at every byte boundary`, () => {
      const whole = new codec.PacketReader().push(bytes);
      assert.ok(Array.isArray(whole));
      assert.equal(whole.length, 1);
      check(whole[0]!);
      // Every split point for small packets; for big ones, 300 spread over the packet.
      const step = Math.max(1, Math.floor(bytes.length / 300));
      for (let at = 1; at < bytes.length; at += step) {
        const r = new codec.PacketReader();
        const a = r.push(bytes.subarray(0, at));
        assert.deepEqual(a, [], `nothing before the packet is whole (split at ${at})`);
        const b = r.push(bytes.subarray(at));
        assert.ok(Array.isArray(b) && b.length === 1, `one packet after the rest (split at ${at})`);
        assert.deepEqual(summary(b[0]!), summary(whole[0]!), `split at ${at}`);
      }
    });
  }

  it('several packets in one frame, then the start of the next', () => {
    const all = Buffer.concat(packets.map(([, b]) => b));
    const r = new codec.PacketReader();
    const got = r.push(Buffer.concat([all, packets[0]![1].subarray(0, 1)]));
    assert.ok(Array.isArray(got));
    assert.equal(got.length, packets.length);
    got.forEach((p, i) => packets[i]![2](p));
    assert.deepEqual(r.push(packets[0]![1].subarray(1)), [{ type: 'connack', returnCode: 0 }]);
  });

  it('a remaining length longer than four bytes is an error, not a wait', () => {
    const r = new codec.PacketReader().push(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    assert.ok(r instanceof Error);
  });
});
