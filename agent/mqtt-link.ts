// The agent's MQTT connection: wss with this Pi's certificate, client id = serial, a persistent session
// (QoS 1 requests sent while the Pi is away wait for it at the hub), a retained will {online:false},
// reconnects with capped exponential backoff and full jitter, a slow retry once the hub has refused the
// certificate, and a switch to renewed credentials without a gap in the session.
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import tls from 'node:tls';
// The client class alone: mqtt's index also loads every transport it knows (tcp, tls, ws, socks
// proxies, the browser's), which the agent never uses — it hands the client its own stream (about 0.5 MB
// of resident memory, docs/BENCHMARKING.md).
import clientModule, { type IClientOptions, type IClientPublishOptions } from 'mqtt/lib/client';
import messageIdModule from 'mqtt/lib/default-message-id-provider';
import storeModule from 'mqtt/lib/store';
import mqttPacket from 'mqtt-packet';
import WebSocket from 'ws';
import { MAX_RETRY_AFTER_S } from '../shared/limits.js';
import type { Logger } from '../shared/log.js';
import { coalescingWebSocketStream } from '../shared/ws-stream.js';

// mqtt-packet precomputes a Buffer for each of the 65,536 message ids on first use: 6 MB of heap in
// 65k objects, for a broker's hot path. The agent sends a few packets a second; it makes the two bytes
// when needed instead, which takes its resident memory down by about 10 MB.
mqttPacket.writeToStream.cacheNumbers = false;

// A CommonJS module: Node hands an ES module its module.exports, where the class is `default`.
const MqttClient = clientModule.default;
type MqttClient = InstanceType<typeof MqttClient>;
const Store = storeModule.default;
const DefaultMessageIdProvider = messageIdModule.default;

export interface Credentials { key: string; cert: string; ca: string }

export interface MqttLinkOptions {
  /** wss://HOST:PORT/mqtt */
  url: string;
  clientId: string;
  credentials: () => Credentials;
  will: { topic: string; payload: () => string };
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** After the hub refused this Pi (CONNACK 5, revoked or unknown certificate). */
  refusedRetryMs: number;
  log: Logger;
  /** Called on every (re)connect, before queued publishes go out: subscribe and announce here. */
  onConnect: (client: MqttClient, sessionPresent: boolean) => Promise<void> | void;
  /** The agent's own checks, e.g. whether its certificate has expired; a message explains a refusal. */
  diagnose?: () => string | null;
}

export interface LinkEvents {
  message: [topic: string, payload: Buffer];
  up: [];
  down: [];
}

/** Full jitter: a random delay in [0, min(max, min·2^attempt)] (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.max(minMs / 2, Math.round(random() * ceiling));
}

export class MqttLink extends EventEmitter<LinkEvents> {
  private client: MqttClient | null = null;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private refused = false;
  private switching: Promise<void> | null = null;
  /**
   * The session's packets in flight and its message ids, shared by every client this link makes: after a
   * switch to renewed credentials the new client sends again what the old one had not got acknowledged
   * (a result, when the old one's graceful end timed out), as a reconnect does. mqtt.js's own stores
   * forget their packets when their client ends; these (clean: false) keep them until acknowledged.
   */
  private readonly session = {
    incomingStore: new Store({ clean: false }),
    outgoingStore: new Store({ clean: false }),
    messageIdProvider: new DefaultMessageIdProvider(),
  };
  /**
   * The last TLS session ticket the hub gave this Pi: the next connection resumes with it and skips
   * the certificate signature and its verification on both sides (the hub keeps its ticket keys
   * across restarts, docs/ARCHITECTURE.md "Reconnect storms"). Forgotten with the credentials it was made with.
   */
  private tlsSession: Buffer | null = null;
  /** The hub's Retry-After (ms) when it deferred this Pi with 503 (its accept rate): the next try waits that, not more. */
  private deferredMs: number | null = null;
  /**
   * The TLS context made from the credentials, kept while they stay the same: making one parses the key,
   * the certificate and the CA (about 1 ms on a PC, OpenSSL 3), which each reconnect did again.
   */
  private context: { c: Credentials; ctx: tls.SecureContext } | null = null;

  constructor(private readonly o: MqttLinkOptions) { super(); }

  get connected(): boolean { return this.client?.connected === true; }

  start(): void {
    this.stopped = false;
    this.client = this.newClient();
  }

  private options(): IClientOptions {
    return {
      protocolVersion: 4, // aedes speaks MQTT 3.1.1 only
      clientId: this.o.clientId,
      clean: false,
      keepalive: 30,
      reconnectPeriod: 0, // reconnects are ours: backoff with jitter, and a slow pace once refused
      // A hub busy with a reconnect storm may take a while to answer CONNECT; giving up and trying
      // again costs it a new handshake and this Pi its place (docs/ARCHITECTURE.md, "Reconnect storms").
      connectTimeout: 30_000,
      queueQoSZero: false, // stats taken while offline are stale: drop them instead of queueing without bound
      ...this.session,
      resubscribe: false, // onConnect subscribes
      will: { topic: this.o.will.topic, payload: Buffer.from(this.o.will.payload()), qos: 1, retain: true },
    };
  }

  private newClient(): MqttClient {
    const mine: { client?: MqttClient } = {}; // a session ticket of an old client after a switch is not kept
    const build = () => {
      const secureContext = this.secureContext(this.o.credentials());
      const ws = new WebSocket(this.o.url, ['mqtt'], {
        perMessageDeflate: false, handshakeTimeout: 15_000,
        // ws's own tlsConnect, with the credentials' context, the session to resume and the tickets the hub sends.
        createConnection: ((options: tls.ConnectionOptions & { host?: string; path?: string }) => {
          const servername = options.servername || options.servername === '' ? options.servername : (isIP(options.host ?? '') ? '' : options.host);
          const socket = tls.connect({ ...options, secureContext, path: undefined, servername } as tls.ConnectionOptions);
          // The session to resume, set once before the TCP connection is up (the ClientHello goes then).
          // tls.connect's own `session` option decodes it twice (the socket's _init, then again after
          // connect()): ~0.3 ms each with OpenSSL 3, as it holds the hub's certificate, on every try.
          if (this.tlsSession) (socket as tls.TLSSocket & { setSession(session: Buffer): void }).setSession(this.tlsSession); // documented; not in @types/node
          socket.on('session', (session: Buffer) => { if (this.client === mine.client) this.tlsSession = session; });
          return socket;
        }) as never,
      });
      ws.on('error', () => {}); // surfaced through the stream
      // 503 is the hub's accept rate during a reconnect storm: "come back in Retry-After seconds".
      // Without a listener ws turns it into an error ("Unexpected server response: 503") all the same.
      ws.once('unexpected-response', (req, res) => {
        const after = Number(res.headers['retry-after']);
        if (res.statusCode === 503 && after > 0) this.deferredMs = Math.min(after, MAX_RETRY_AFTER_S) * 1000;
        req.destroy(new Error(`Unexpected server response: ${res.statusCode}`));
      });
      return coalescingWebSocketStream(ws);
    };
    const client = mine.client = new MqttClient(build as never, this.options());
    client.on('connect', (connack) => {
      this.attempt = 0;
      if (this.refused) this.o.log.info('the hub accepts this Pi again');
      this.refused = false;
      Promise.resolve(this.o.onConnect(client, connack.sessionPresent)).then(
        () => this.emit('up'),
        (err: Error) => this.o.log.error('setting up the connection failed', { error: err.message }),
      );
    });
    client.on('message', (topic, payload) => this.emit('message', topic, payload));
    client.on('error', (err: Error & { code?: number | string }) => {
      if (err.code === 5 || err.code === 4) {
        this.tlsSession = null;
        if (!this.refused) {
          const why = this.o.diagnose?.() ?? 'its certificate is revoked or unknown there';
          this.o.log.error(`the hub refused this Pi: ${why}. Connect it again: sudo pi-agent connect --hub URL --api-key KEY --fingerprint SHA256 --force`);
        }
        this.refused = true;
      } else {
        this.o.log.warn('connection error', { error: err.message, code: err.code });
      }
    });
    client.on('close', () => {
      if (client !== this.client) return; // an old client after a switch
      this.emit('down');
      if (!this.stopped && !this.switching) this.scheduleReconnect(client);
    });
    return client;
  }

  private secureContext(c: Credentials): tls.SecureContext {
    const k = this.context;
    if (k && k.c.key === c.key && k.c.cert === c.cert && k.c.ca === c.ca) return k.ctx;
    const ctx = tls.createSecureContext({ key: c.key, cert: c.cert, ca: c.ca, minVersion: 'TLSv1.3' });
    this.context = { c: { ...c }, ctx };
    return ctx;
  }

  private scheduleReconnect(client: MqttClient): void {
    if (this.timer) return;
    let delay: number;
    if (this.refused) {
      delay = Math.round(this.o.refusedRetryMs * (0.8 + 0.4 * Math.random()));
    } else if (this.deferredMs !== null) {
      // Deferred, not failed: the backoff does not grow. The hub spreads the deferred over the seconds
      // ahead (broker/accept-gate.ts); a second's jitter spreads them within theirs.
      delay = Math.round(this.deferredMs + Math.random() * 1000);
      this.deferredMs = null;
    } else {
      delay = backoffDelay(this.attempt++, this.o.reconnectMinMs, this.o.reconnectMaxMs);
      const why = this.o.diagnose?.();
      if (why) this.o.log.warn(why);
    }
    this.o.log.info('disconnected; reconnecting', { inMs: delay, attempt: this.attempt });
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped || client !== this.client) return;
      // Keep the stores: QoS 1 results not yet acknowledged are sent again after the reconnect.
      client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    }, delay);
  }

  /** Publishes now, or when the link is back (QoS 1); QoS 0 while offline is dropped. */
  async publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions): Promise<void> {
    if (this.switching) await this.switching;
    const client = this.client;
    if (!client || this.stopped) throw new Error('the MQTT link is stopped');
    if ((opts.qos ?? 0) === 0 && !client.connected) return;
    await client.publishAsync(topic, payload, opts);
  }

  /**
   * Renewed credentials: end the session gracefully (DISCONNECT after in-flight messages are
   * acknowledged, so no will fires and nothing is lost) and open a new connection with them. The
   * persistent session at the hub keeps requests that arrive in between.
   */
  switchCredentials(): Promise<void> {
    if (this.switching) return this.switching;
    const old = this.client;
    this.tlsSession = null; // it holds the old certificate: a resumed session would present it again
    this.switching = (async () => {
      if (old) {
        if (this.timer) { clearTimeout(this.timer); this.timer = null; }
        await endClient(old, !old.connected);
      }
      if (!this.stopped) this.client = this.newClient();
      this.o.log.info('switched to the renewed certificate');
    })().finally(() => { this.switching = null; });
    return this.switching;
  }

  /** Publishes `last` (e.g. {online:false}) if connected, then ends the session cleanly. */
  async stop(last?: { topic: string; payload: string }): Promise<void> {
    this.stopped = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.switching) await this.switching.catch(() => {});
    const c = this.client;
    if (!c) return;
    if (c.connected && last) {
      await Promise.race([
        c.publishAsync(last.topic, last.payload, { qos: 1, retain: true }).catch(() => {}),
        new Promise((r) => setTimeout(r, 3_000)),
      ]);
    }
    await endClient(c, !c.connected);
  }
}

function endClient(c: MqttClient, force: boolean): Promise<void> {
  return Promise.race([
    new Promise<void>((resolve) => c.end(force, {}, () => resolve())),
    new Promise<void>((resolve) => setTimeout(() => { c.end(true); resolve(); }, 5_000)),
  ]);
}
