// One MQTT connection over a WebSocket, as the page needs it: connect (the session cookie or the
// browser's client certificate authenticates the upgrade), subscribe, receive, publish at QoS 1 and
// learn when the hub acknowledged it, keep the connection alive. Reconnecting is the owner's choice
// (it first asks the hub whether the session still exists).
import * as codec from './codec.js';

export type CloseReason =
  | { kind: 'refused'; returnCode: number }
  | { kind: 'closed'; code: number }
  | { kind: 'protocol'; message: string }
  | { kind: 'stopped' };

export interface MqttClientOptions {
  url: string;
  clientId: string;
  filters: ReadonlyArray<{ topic: string; qos: 0 | 1 }>;
  onMessage(topic: string, payload: Uint8Array, retain: boolean): void;
  onOnline(): void;
  onClose(reason: CloseReason): void;
  /** [MQTT-3.1.2-24] the hub closes a connection silent for 1.5 times this. */
  keepAliveSec?: number;
}

/** Pings at half the keep-alive: a hidden tab's timers may be held back to once a minute. */
const PING_DIVISOR = 2;

export class MqttClient {
  private ws: WebSocket | null = null;
  private reader = new codec.PacketReader();
  private nextId = 1;
  private readonly acks = new Map<number, { resolve(): void; reject(e: Error): void }>();
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private awaitingPong = false;
  private done = false;

  constructor(private readonly o: MqttClientOptions) {}

  start(): void {
    const ws = new WebSocket(this.o.url, ['mqtt']);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    const keepAlive = this.o.keepAliveSec ?? 60;
    ws.onopen = () => ws.send(codec.connect(this.o.clientId, keepAlive));
    ws.onmessage = (e) => {
      if (!(e.data instanceof ArrayBuffer)) return this.fail({ kind: 'protocol', message: 'a text frame' });
      const packets = this.reader.push(new Uint8Array(e.data));
      if (packets instanceof Error) return this.fail({ kind: 'protocol', message: packets.message });
      for (const p of packets) this.handle(p, keepAlive);
    };
    ws.onclose = (e) => this.fail({ kind: 'closed', code: e.code });
  }

  /** Sends DISCONNECT and closes; no further callbacks. */
  stop(): void {
    if (this.done) return;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(codec.disconnect());
    this.finish({ kind: 'stopped' }, false);
    this.ws?.close();
  }

  /** Publishes JSON; at QoS 1 resolves when the hub has it (PUBACK), rejects if the connection ends first. */
  publish(topic: string, message: unknown, qos: 0 | 1 = 1): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.done) return Promise.reject(new Error('not connected to the hub'));
    const payload = new TextEncoder().encode(JSON.stringify(message));
    if (qos === 0) {
      ws.send(codec.publish(topic, payload, 0, 0));
      return Promise.resolve();
    }
    const id = this.packetId();
    return new Promise((resolve, reject) => {
      this.acks.set(id, { resolve, reject });
      ws.send(codec.publish(topic, payload, 1, id));
    });
  }

  private packetId(): number {
    // [MQTT-2.3.1-1] non-zero, and not one still waiting for its PUBACK.
    do { this.nextId = this.nextId >= 0xffff ? 1 : this.nextId + 1; } while (this.acks.has(this.nextId));
    return this.nextId;
  }

  private handle(p: codec.Packet, keepAlive: number): void {
    const ws = this.ws!;
    switch (p.type) {
      case 'connack':
        if (p.returnCode !== 0) return this.fail({ kind: 'refused', returnCode: p.returnCode });
        ws.send(codec.subscribe(this.packetId(), this.o.filters));
        this.pingTimer = setInterval(() => this.ping(), (keepAlive * 1000) / PING_DIVISOR);
        this.o.onOnline();
        return;
      case 'publish':
        if (p.qos === 1) ws.send(codec.puback(p.id));
        this.o.onMessage(p.topic, p.payload, p.retain);
        return;
      case 'puback': {
        const waiting = this.acks.get(p.id);
        this.acks.delete(p.id);
        waiting?.resolve();
        return;
      }
      case 'pingresp':
        this.awaitingPong = false;
        return;
      case 'suback':
        // A refused filter (0x80) would be a bug in the page: every filter it asks for is within devices/#.
        if (p.granted.includes(0x80)) console.warn('the hub refused a subscription', p.granted);
        return;
      case 'other':
        return;
    }
  }

  private ping(): void {
    if (this.awaitingPong) return this.fail({ kind: 'protocol', message: 'the hub stopped answering pings' });
    this.awaitingPong = true;
    this.ws?.send(codec.pingreq());
  }

  private fail(reason: CloseReason): void {
    this.finish(reason, true);
    this.ws?.close();
  }

  private finish(reason: CloseReason, tell: boolean): void {
    if (this.done) return;
    this.done = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const w of this.acks.values()) w.reject(new Error('the connection to the hub ended'));
    this.acks.clear();
    if (tell) this.o.onClose(reason);
  }
}
