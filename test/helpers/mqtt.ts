// MQTT clients for tests: mqtt.js over wss or mqtts with a certificate, and a collector of messages.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { topicMatches } from '../../shared/topics.js';
import type { TestHub } from './hub.js';
import { withTimeout } from './process.js';

export type Transport = 'wss' | 'mqtts';

export interface ConnectOptions {
  transport?: Transport;
  clientId?: string;
  clean?: boolean;
  will?: IClientOptions['will'];
  /** Let refusals surface as errors instead of retrying. */
  reconnect?: boolean;
}

export function clientOptions(creds: { key: string; cert: string; ca?: string } | null, hub: TestHub, o: ConnectOptions = {}): IClientOptions {
  return {
    protocolVersion: 4,
    clientId: o.clientId ?? `test-${Math.random().toString(36).slice(2, 10)}`,
    clean: o.clean ?? true,
    reconnectPeriod: o.reconnect ? 200 : 0,
    connectTimeout: 5_000,
    ca: hub.caPem,
    servername: 'localhost',
    ...(creds ? { key: creds.key, cert: creds.cert } : {}),
    ...(o.will ? { will: o.will } : {}),
  };
}

export function urlOf(hub: TestHub, transport: Transport = 'wss'): string {
  return transport === 'wss' ? hub.wssUrl : hub.mqttsUrl;
}

export async function connect(hub: TestHub, creds: { key: string; cert: string } | null, o: ConnectOptions = {}): Promise<MqttClient> {
  return withTimeout(mqtt.connectAsync(urlOf(hub, o.transport), clientOptions(creds, hub, o)), 8_000, `connect ${o.clientId ?? ''}`);
}

/**
 * Tries to connect and reports how it ended: 'connected', or the refusal (CONNACK return code, TLS
 * error, or a close with no CONNACK — what TLS 1.3 clients see when their certificate is rejected).
 */
export function tryConnect(hub: TestHub, creds: { key: string; cert: string } | null, o: ConnectOptions = {}): Promise<{ outcome: 'connected' | 'refused'; detail: string; client?: MqttClient }> {
  return new Promise((resolve) => {
    const client = mqtt.connect(urlOf(hub, o.transport), clientOptions(creds, hub, o));
    const done = (outcome: 'connected' | 'refused', detail: string) => {
      clearTimeout(timer);
      if (outcome === 'connected') resolve({ outcome, detail, client });
      else { client.end(true); resolve({ outcome, detail }); }
    };
    const timer = setTimeout(() => done('refused', 'no CONNACK within 8 s'), 8_000);
    client.once('connect', () => done('connected', 'ok'));
    client.once('error', (err) => done('refused', `${(err as { code?: unknown }).code ?? ''} ${err.message}`.trim()));
    client.once('close', () => done('refused', 'closed before CONNACK'));
  });
}

export interface Received { topic: string; payload: string; retain: boolean; qos: number }

/** Records every message a client receives; `next()` waits for one matching a filter. */
export class Collector {
  readonly messages: Received[] = [];
  private waiters: Array<{ filter: string; resolve: (m: Received) => void; from: number }> = [];

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m = { topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos };
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (topicMatches(w.filter, topic)) { w.resolve(m); return false; }
        return true;
      });
    });
  }

  /** The next message on `filter` — counting those already received since index `from` (default: all). */
  next(filter: string, timeoutMs = 5_000, from = 0): Promise<Received> {
    const have = this.messages.slice(from).find((m) => topicMatches(filter, m.topic));
    if (have) return Promise.resolve(have);
    return withTimeout(new Promise<Received>((resolve) => this.waiters.push({ filter, resolve, from })), timeoutMs, `a message on ${filter}`);
  }

  on(filter: string): Received[] {
    return this.messages.filter((m) => topicMatches(filter, m.topic));
  }
}
