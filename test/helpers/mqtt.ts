// MQTT clients for tests: mqtt.js over wss or mqtts with a certificate, and a collector of messages.
import type { ConnectionOptions } from 'node:tls';
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
  /** More client options, applied last. */
  extra?: Partial<IClientOptions>;
  /**
   * TLS options (versions, a pfx…) for both transports: mqtt.js hands a wss connection only
   * rejectUnauthorized, ca, cert, key, pfx and passphrase, so they go into wsOptions too.
   */
  tls?: ConnectionOptions;
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
    ...(o.tls ? { ...o.tls, wsOptions: { ...o.tls } } : {}),
    ...o.extra,
  } as IClientOptions;
}

export function urlOf(hub: TestHub, transport: Transport = 'wss'): string {
  return transport === 'wss' ? hub.wssUrl : hub.mqttsUrl;
}

const connacks = new WeakMap<MqttClient, { sessionPresent: boolean; returnCode: number }>();

/** The CONNACK a client got from `connect()`. */
export function connackOf(client: MqttClient): { sessionPresent: boolean; returnCode: number } {
  const c = connacks.get(client);
  if (!c) throw new Error('no CONNACK recorded for this client');
  return c;
}

export async function connect(hub: TestHub, creds: { key: string; cert: string } | null, o: ConnectOptions = {}): Promise<MqttClient> {
  return (await connectCollector(hub, creds, o)).client;
}

/**
 * Connects with a Collector already listening, so nothing the hub sends right after CONNACK (the
 * offline queue of a persistent session) can be missed.
 */
export async function connectCollector(hub: TestHub, creds: { key: string; cert: string } | null, o: ConnectOptions = {}): Promise<Collector> {
  const client = mqtt.connect(urlOf(hub, o.transport), clientOptions(creds, hub, o));
  const collector = new Collector(client);
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      client.once('connect', (connack) => {
        connacks.set(client, { sessionPresent: connack.sessionPresent, returnCode: connack.returnCode ?? 0 });
        resolve();
      });
      client.once('error', reject);
      client.once('close', () => reject(new Error('closed before CONNACK')));
    }), 8_000, `connect ${o.clientId ?? ''}`);
  } catch (err) {
    client.end(true);
    throw err;
  }
  return collector;
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
  private waiters: Array<{ filter: string; where: ((m: Received) => boolean) | undefined; resolve: (m: Received) => void }> = [];

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m = { topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos };
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (topicMatches(w.filter, topic) && (!w.where || w.where(m))) { w.resolve(m); return false; }
        return true;
      });
    });
  }

  /**
   * The next message on `filter` (and satisfying `where`, if given) — counting those already received
   * since index `from` (default: all).
   */
  next(filter: string, timeoutMs = 5_000, from = 0, where?: (m: Received) => boolean): Promise<Received> {
    const have = this.messages.slice(from).find((m) => topicMatches(filter, m.topic) && (!where || where(m)));
    if (have) return Promise.resolve(have);
    return withTimeout(new Promise<Received>((resolve) => this.waiters.push({ filter, where, resolve })), timeoutMs, `a message on ${filter}`);
  }

  /** The next message on `filter` that was published after the subscription (not a retained one). */
  live(filter: string, timeoutMs = 5_000, where?: (m: Received) => boolean): Promise<Received> {
    return this.next(filter, timeoutMs, 0, (m) => !m.retain && (!where || where(m)));
  }

  on(filter: string): Received[] {
    return this.messages.filter((m) => topicMatches(filter, m.topic));
  }

  /** Messages published while subscribed (retained ones delivered at subscription left out). */
  get liveMessages(): Received[] {
    return this.messages.filter((m) => !m.retain);
  }
}

/** When the broker closes (or the client ends) the connection. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', () => resolve());
  });
}

/**
 * Subscribes and returns the SUBACK's granted codes, one per filter (0x80 = refused), instead of the
 * error mqtt.js makes of a refusal.
 */
export function granted(client: MqttClient, filters: string[], qos: 0 | 1 = 1, timeoutMs = 3_000): Promise<number[]> {
  return withTimeout(new Promise<number[]>((resolve, reject) => {
    client.subscribe(filters, { qos }, (err, _subs, packet) => {
      const codes = (packet as { granted?: unknown } | undefined)?.granted;
      if (Array.isArray(codes)) resolve(codes.map(Number));
      else reject(err ?? new Error('no SUBACK'));
    });
  }), timeoutMs, `SUBACK for ${filters.join(' ')}`);
}

/** Publishes at QoS 1 and waits for the PUBACK, with a timeout (publishAsync alone may never settle). */
export async function publish(client: MqttClient, topic: string, payload: string | object, opts: { qos?: 0 | 1; retain?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  await withTimeout(client.publishAsync(topic, body, { qos: opts.qos ?? 1, retain: opts.retain ?? false }), opts.timeoutMs ?? 3_000, `publish on ${topic}`);
}

/**
 * Publishes something the hub must refuse and waits for the hub to drop the connection (aedes drops a
 * client whose publish it refuses). Rejects if the connection survives `timeoutMs`.
 */
export async function publishRefused(client: MqttClient, topic: string, payload: string | object, timeoutMs = 3_000): Promise<void> {
  const gone = closed(client);
  client.publish(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 }, () => {});
  await withTimeout(gone, timeoutMs, `the hub to drop the client after its publish on ${topic}`);
}

/** Ends clients with a DISCONNECT (after what they owe, e.g. PUBACKs), forcing it after a second. */
export async function end(...clients: Array<MqttClient | undefined>): Promise<void> {
  await Promise.all(clients.map(async (c) => {
    if (!c) return;
    try {
      await withTimeout(c.endAsync(false), 1_000, 'end');
    } catch {
      await withTimeout(c.endAsync(true), 1_000, 'end, forced').catch(() => undefined);
    }
  }));
}
