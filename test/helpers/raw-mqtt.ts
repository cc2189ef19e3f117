// A bare MQTT 3.1.1 client for tests that must control or observe the wire itself: packets mqtt.js
// will not send (an empty client id with a persistent session), and WebSocket framing (how many
// frames the hub sends per packet). Speaks mqtt-packet over `ws` or a TLS socket.
import tls from 'node:tls';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import WebSocket from 'ws';
import type { TestHub } from './hub.js';
import type { Transport } from './mqtt.js';
import { withTimeout } from './process.js';

/** A WebSocket frame the hub sent: its size, the packets parsed from it, and whether it held only whole packets. */
export interface Frame { bytes: number; packets: string[]; whole: boolean }

/**
 * Walks the MQTT fixed headers in `buf` (type byte, remaining length as a variable byte integer,
 * [MQTT-2.2.3]): the number of packets if `buf` is exactly a sequence of whole packets, else null.
 */
export function countWholePackets(buf: Buffer): number | null {
  let i = 0;
  let n = 0;
  while (i < buf.length) {
    let len = 0;
    let mult = 1;
    let j = i + 1;
    for (;;) {
      if (j >= buf.length || mult > 128 ** 3) return null;
      const b = buf[j++]!;
      len += (b & 0x7f) * mult;
      mult *= 128;
      if ((b & 0x80) === 0) break;
    }
    i = j + len;
    if (i > buf.length) return null;
    n++;
  }
  return n;
}

export class RawMqtt {
  readonly packets: Packet[] = [];
  /** WebSocket only: every frame the hub sent, with the packets it carried and the bytes left unparsed after it. */
  readonly frames: Frame[] = [];
  closed = false;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private waiters: Array<{ match: (p: Packet) => boolean; resolve: (p: Packet) => void }> = [];
  private inFrame: string[] | null = null;
  private closeWaiters: Array<() => void> = [];

  private constructor(private readonly write: (b: Buffer) => void, private readonly destroy: () => void) {
    this.parser.on('packet', (p: Packet) => {
      this.inFrame?.push(p.cmd);
      this.packets.push(p);
      this.waiters = this.waiters.filter((w) => (w.match(p) ? (w.resolve(p), false) : true));
    });
  }

  static async open(hub: TestHub, creds: { key: string; cert: string } | null, transport: Transport, extra: tls.ConnectionOptions = {}): Promise<RawMqtt> {
    const secure = { ca: hub.caPem, servername: 'localhost', ...(creds ? { key: creds.key, cert: creds.cert } : {}), ...extra };
    if (transport === 'wss') {
      const ws = new WebSocket(hub.wssUrl, ['mqtt'], { ...secure, perMessageDeflate: false });
      const c = new RawMqtt((b) => ws.send(b), () => ws.terminate());
      ws.on('message', (data: Buffer) => {
        c.inFrame = [];
        c.parser.parse(data);
        c.frames.push({ bytes: data.length, packets: c.inFrame, whole: countWholePackets(data) === c.inFrame.length });
        c.inFrame = null;
      });
      ws.on('close', () => c.onClose());
      ws.on('error', () => c.onClose());
      await withTimeout(new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); }), 8_000, 'WebSocket open');
      return c;
    }
    const socket = tls.connect({ host: '127.0.0.1', port: hub.mqttsPort, ...secure });
    const c = new RawMqtt((b) => socket.write(b), () => socket.destroy());
    socket.on('data', (d: Buffer) => c.parser.parse(d));
    socket.on('close', () => c.onClose());
    socket.on('error', () => c.onClose());
    await withTimeout(new Promise<void>((resolve, reject) => { socket.once('secureConnect', () => resolve()); socket.once('error', reject); }), 8_000, 'TLS connect');
    return c;
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.closeWaiters) w();
    this.closeWaiters = [];
  }

  /** Sends one packet in one write (so one WebSocket frame). */
  send(packet: Packet): void {
    this.write(mqttPacket.generate(packet));
  }

  /** The next packet (already received or to come) of this kind, optionally satisfying `where`. */
  next<P extends Packet = Packet>(cmd: Packet['cmd'], timeoutMs = 5_000, where: (p: P) => boolean = () => true): Promise<P> {
    const match = (p: Packet) => p.cmd === cmd && where(p as P);
    const have = this.packets.find(match);
    if (have) {
      this.packets.splice(this.packets.indexOf(have), 1);
      return Promise.resolve(have as P);
    }
    return withTimeout(new Promise<P>((resolve) => this.waiters.push({
      match, resolve: (p) => { this.packets.splice(this.packets.indexOf(p), 1); resolve(p as P); },
    })), timeoutMs, `a ${cmd} packet`);
  }

  /** Sends bytes as they are (packets mqtt-packet refuses to generate). */
  sendRaw(bytes: Buffer): void {
    this.write(bytes);
  }

  /** CONNECT and the CONNACK's return code. */
  async connect(o: Partial<IConnectPacket> = {}): Promise<{ returnCode: number; sessionPresent: boolean }> {
    this.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `raw-${Math.random().toString(36).slice(2, 8)}`, keepalive: 30, ...o } as IConnectPacket);
    const ack = await this.next<Packet & { returnCode: number; sessionPresent: boolean }>('connack');
    return { returnCode: ack.returnCode, sessionPresent: ack.sessionPresent };
  }

  waitClosed(timeoutMs = 3_000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.closeWaiters.push(resolve)), timeoutMs, 'the connection to close');
  }

  close(): void {
    this.destroy();
  }
}
