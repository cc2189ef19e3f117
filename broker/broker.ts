// The hub's MQTT broker: Aedes plus the hooks where user isolation lives (../shared/AEDES-NOTES.md).
//
// - Identity comes from TLS before CONNECT (identity.ts) and is attached to the aedes client.
// - Every inbound topic is mounted in one place, the parser's `packet` event (mountInbound), so that
//   PUBLISH, SUBSCRIBE, UNSUBSCRIBE (no aedes hook) and the CONNECT will all hold internal topics, and
//   restored sessions and stored wills — already internal — need no second rewrite.
// - The hooks then only check: authenticate (identity, client id), authorizePublish (ACL + payloads
//   the hub must validate and stamp), authorizeSubscribe (ACL), authorizeForward (strip the mount).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { formatIssues } from '../shared/cli.js';
import { parseJson, parseValid } from '../shared/json.js';
import type { Logger } from '../shared/log.js';
import {
  CmdRequestSchema, CmdResultSchema, DoctorReportSchema, GpioSetSchema, GpioStateSchema, ManifestSchema, StatusSchema,
  type CmdResult,
} from '../shared/schemas.js';
import { type DeviceTopic, REQUEST_ID_RE, parseDeviceTopic, topics } from '../shared/topics.js';
import { maySubscribe, publishAllowed } from './acl.js';
import type { AuditWriter } from './audit-writer.js';
import type { DeviceEntry, DeviceTracker } from './device-tracker.js';
import type { Identity, IdentityResult } from './identity.js';
import {
  type InboundPacket, type Principal, internalClientId, mountInbound, mountOf, principalFromClientId, unmount, unmountOutbound,
} from './mountpoint.js';
import type { SessionRegistry } from './sessions.js';

/**
 * The largest MQTT packet (remaining length) a client may send: what one WebSocket frame may carry on
 * the HTTPS listener, now for both transports. Before CONNACK only a CONNECT is due, and a client the
 * hub will refuse has not proved who it is: it may not make the hub buffer more than a small one.
 */
export const MAX_PACKET_BYTES = 1024 * 1024;
export const MAX_PACKET_BYTES_BEFORE_CONNACK = 64 * 1024;

/** Where a message the hub refused but must not disconnect for goes: no client can subscribe to it. */
const VOID_TOPIC = '$pifleet/void';

const STATE = Symbol('pifleet');

interface ConnState {
  identity: Identity | null;
  /** A device's own entry in the tracker, found once at CONNECT. */
  device: DeviceEntry | null;
  /** The last topic this connection was allowed to publish on, parsed: devices repeat theirs. */
  lastTopic: string | null;
  lastParsed: DeviceTopic | null;
  refusal: string | null;
  mount: string | null;
  requestedClientId: string | null;
  remote: string;
}

type HubClient = Client & {
  [STATE]?: ConnState;
  _will?: { topic: string; payload: Buffer } | null;
  _parser?: {
    prependListener(ev: 'packet', fn: (p: InboundPacket) => void): void;
    parse(buf: Buffer): number;
    /** The packet being parsed: `length` is its remaining length once the fixed header is in, else -1. */
    packet?: { length: number };
  };
  connackSent?: boolean;
  id: string;
};

export interface HubBrokerDeps {
  sessions: SessionRegistry;
  tracker: DeviceTracker;
  audit: AuditWriter;
  log: Logger;
}

function refusal(returnCode: 2 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export class HubBroker {
  private aedes: Aedes | null = null;

  constructor(private readonly deps: HubBrokerDeps) {}

  get instance(): Aedes {
    if (!this.aedes) throw new Error('broker not started');
    return this.aedes;
  }

  async start(): Promise<void> {
    this.aedes = await Aedes.createBroker({
      authenticate: (c, u, p, done) => this.authenticate(c as HubClient, done),
      authorizePublish: (c, packet, done) => this.authorizePublish(c as HubClient | null, packet, done),
      authorizeSubscribe: (c, sub, done) => this.authorizeSubscribe(c as HubClient, sub, done),
      authorizeForward: (c, packet) => this.authorizeForward(c as HubClient, packet),
    });
    this.aedes.on('clientError', (client, err) => this.deps.log.debug('client error', { client: client.id, error: err.message }));
    this.aedes.on('connectionError', (_client, err) => this.deps.log.debug('connection error', { error: err.message }));
  }

  async stop(): Promise<void> {
    const a = this.aedes;
    this.aedes = null;
    if (a) await new Promise<void>((resolve) => a.close(() => resolve()));
  }

  /** Hands a new connection (a WebSocket stream or a TLS socket) to aedes, with who it is. */
  handle(stream: Duplex, req: IncomingMessage | null, who: IdentityResult, remote: string): void {
    const client = this.instance.handle(stream, req ?? undefined) as unknown as HubClient;
    const identity = who.ok ? who.identity : null;
    const state: ConnState = {
      identity,
      device: null,
      lastTopic: null,
      lastParsed: null,
      refusal: who.ok ? null : who.reason,
      mount: identity ? mountOf(identity.userId) : null,
      requestedClientId: null,
      remote,
    };
    client[STATE] = state;
    if (!client._parser) throw new Error('aedes internals changed: client._parser is missing (pinned aedes version?)');
    const parser = client._parser;
    parser.prependListener('packet', (packet) => {
      if (packet.cmd === 'connect') state.requestedClientId = (packet as { clientId?: string }).clientId ?? '';
      if (state.mount) mountInbound(state.mount, packet);
    });
    // mqtt-packet buffers a packet whole, up to the 256 MiB its header may declare, before anyone sees
    // it: cut a connection as soon as a header declares more than it may send, before it is buffered.
    const parse = parser.parse.bind(parser);
    parser.parse = (buf: Buffer) => {
      const left = parse(buf);
      const limit = client.connackSent ? MAX_PACKET_BYTES : MAX_PACKET_BYTES_BEFORE_CONNACK;
      const declared = parser.packet?.length ?? -1;
      if (declared > limit || left > limit + 5) {
        this.deps.log.warn('packet too large, connection closed', { remote, client: state.requestedClientId ?? undefined, bytes: Math.max(declared, left), limit });
        stream.destroy();
      }
      return left;
    };
  }

  // ---- hooks -------------------------------------------------------------------------------------

  private authenticate(client: HubClient, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const st = client[STATE];
    const id = st?.identity;
    const refuse = (code: 2 | 5, why: string) => {
      this.deps.log.info('connection refused', { remote: st?.remote, client: st?.requestedClientId ?? undefined, reason: why });
      done(refusal(code, why), false);
    };
    if (!st || !id) return refuse(5, st?.refusal ?? 'not authenticated');
    const requested = st.requestedClientId ?? '';
    if (id.kind === 'device' && requested !== id.serial) return refuse(5, `a device's client id must be its serial ${id.serial}`);
    if (requested === '' && !client.clean) return refuse(2, 'an empty client id needs a clean session'); // [MQTT-3.1.3-8]
    const will = client._will;
    if (will) {
      const t = parseMounted(st.mount!, will.topic);
      if (!t || !publishAllowed(id, t)) return refuse(5, `will topic not allowed: ${unmount(st.mount!, will.topic) ?? will.topic}`);
      if (t.kind === 'status' && !parseValid(will.payload, StatusSchema)) return refuse(5, 'the will payload is not a valid status');
    }
    // [MQTT-3.1.3-6] an empty client id gets a unique one: the `aedes_<uuid>` aedes put in client.id.
    client.id = internalClientId(id, requested === '' ? client.id : requested);
    if (id.kind === 'device') st.device = this.deps.tracker.device(id.userId, id.serial);
    if (id.certSerial) {
      const session = { close: () => client.close() };
      this.deps.sessions.add(id.certSerial, id.notAfter, session);
      client.conn.once('close', () => this.deps.sessions.remove(id.certSerial!, session));
    }
    this.deps.log.info('connected', { who: id.kind === 'device' ? `device:${id.serial}` : `user:${id.label}`, remote: st.remote, clean: client.clean });
    done(null, true);
  }

  private authorizePublish(client: HubClient | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    // A will replayed after a restart comes with no client: its internal client id says whose it is.
    const st = client?.[STATE];
    const principal: Principal | null = client
      ? st?.identity ?? null
      : principalFromClientId((packet as { clientId?: string }).clientId);
    if (!principal) return done(new Error('not authorized'));
    let t: DeviceTopic | null;
    if (st && st.lastTopic === packet.topic) {
      t = st.lastParsed; // allowed before, and nothing a connection may do changes that
    } else {
      const mount = mountOf(principal.userId);
      t = parseMounted(mount, packet.topic);
      if (!t || !publishAllowed(principal, t)) {
        this.deps.log.warn('publish refused', { who: describe(principal), topic: unmount(mount, packet.topic) ?? packet.topic });
        return done(new Error('publish not authorized')); // aedes drops the connection
      }
      if (st) { st.lastTopic = packet.topic; st.lastParsed = t; }
    }
    if (!t) return done(new Error('publish not authorized'));
    const { tracker, audit } = this.deps;
    const userId = principal.userId;
    switch (t.kind) {
      case 'cmd-req': {
        const label = st?.identity?.label ?? principal.userId;
        const raw = parseJson(packet.payload);
        const r = CmdRequestSchema.safeParse(raw);
        if (!r.success) {
          const id = (raw as { id?: unknown } | null)?.id;
          const message = formatIssues(r.error).join('; ').slice(0, 1000);
          if (typeof id === 'string' && REQUEST_ID_RE.test(id)) this.replyError(userId, t.serial, id, message);
          audit.add({ userId, actor: `user:${label}`, deviceSerial: t.serial, action: 'cmd.refused', detail: { id: id ?? null, reason: message } });
          return this.divert(packet, done);
        }
        const req = { ...r.data, by: label }; // [hub stamps `by`, overwriting the client's]
        packet.payload = Buffer.from(JSON.stringify(req));
        packet.retain = false; // a retained request would run again on every reconnect
        audit.add({ userId, actor: `user:${label}`, deviceSerial: t.serial, action: 'cmd.req', detail: { id: req.id, module: req.module, command: req.command, params: req.params ?? {} } });
        return done(null);
      }
      case 'gpio-set': {
        const label = st?.identity?.label ?? principal.userId;
        const r = GpioSetSchema.safeParse(parseJson(packet.payload));
        if (!r.success) {
          audit.add({ userId, actor: `user:${label}`, deviceSerial: t.serial, action: 'gpio.refused', detail: { bcm: t.bcm } });
          return this.divert(packet, done);
        }
        packet.payload = Buffer.from(JSON.stringify({ ...r.data, by: label }));
        packet.retain = false;
        audit.add({ userId, actor: `user:${label}`, deviceSerial: t.serial, action: 'gpio.set', detail: { bcm: t.bcm, ...r.data } });
        return done(null);
      }
      case 'stats':
        tracker.stats(this.entryOf(st, userId, t.serial), packet.payload as Buffer);
        return done(null);
      case 'status': {
        const s = parseValid(packet.payload as Buffer, StatusSchema);
        if (!s) return this.dropInvalid(principal, t, packet, done);
        tracker.status(this.entryOf(st, userId, t.serial), s);
        return done(null);
      }
      case 'manifest': {
        const m = parseValid(packet.payload as Buffer, ManifestSchema);
        if (!m) return this.dropInvalid(principal, t, packet, done);
        tracker.manifest(this.entryOf(st, userId, t.serial), m);
        return done(null);
      }
      case 'cmd-res': {
        const res = parseValid(packet.payload as Buffer, CmdResultSchema);
        if (!res || res.id !== t.id) return this.dropInvalid(principal, t, packet, done);
        tracker.seen(this.entryOf(st, userId, t.serial));
        audit.add({
          userId, actor: `device:${t.serial}`, deviceSerial: t.serial, action: 'cmd.res',
          detail: { id: res.id, ok: res.ok, exitCode: res.exitCode, signal: res.signal, durationMs: res.durationMs, error: res.error?.code ?? null },
        });
        return done(null);
      }
      case 'doctor':
        if (!parseValid(packet.payload as Buffer, DoctorReportSchema)) return this.dropInvalid(principal, t, packet, done);
        tracker.seen(this.entryOf(st, userId, t.serial));
        return done(null);
      case 'gpio-state':
        if (!parseValid(packet.payload as Buffer, GpioStateSchema)) return this.dropInvalid(principal, t, packet, done);
        tracker.seen(this.entryOf(st, userId, t.serial));
        return done(null);
    }
  }

  /** A device only ever publishes on its own serial: its entry, found at CONNECT (for a will, now). */
  private entryOf(st: ConnState | undefined, userId: string, serial: string): DeviceEntry {
    return st?.device ?? this.deps.tracker.device(userId, serial);
  }

  private dropInvalid(p: Principal, t: DeviceTopic, packet: PublishPacket, done: (err?: Error | null) => void): void {
    this.deps.log.warn('invalid payload dropped', { who: describe(p), topic: t.kind });
    this.divert(packet, done);
  }

  /** Acknowledges but delivers nowhere: refused content is not a reason to cut a client off. */
  private divert(packet: PublishPacket, done: (err?: Error | null) => void): void {
    packet.topic = VOID_TOPIC;
    packet.retain = false;
    done(null);
  }

  /** Answers a request the hub refused on its result topic, so the requester is never left waiting. */
  private replyError(userId: string, serial: string, id: string, message: string): void {
    const result: CmdResult = {
      v: 1, id, ok: false, exitCode: null, signal: null, stdout: '', stderr: '', truncated: false, durationMs: 0,
      error: { code: 'invalid_request', message: `refused by the hub: ${message}` },
    };
    this.aedes?.publish({
      cmd: 'publish', topic: mountOf(userId) + topics.cmdRes(serial, id), payload: Buffer.from(JSON.stringify(result)),
      qos: 1, retain: false, dup: false,
    } as PublishPacket, () => {});
  }

  private authorizeSubscribe(client: HubClient, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void {
    const st = client[STATE];
    const id = st?.identity;
    // Topics are internal here: mounted on the way in, or restored from the session store as stored.
    const inner = id && st.mount ? unmount(st.mount, sub.topic) : null;
    if (!id || inner === null || !maySubscribe(id, inner)) {
      this.deps.log.info('subscribe refused', { who: id ? describe(id) : 'unknown', filter: inner ?? sub.topic });
      return done(null, null); // SUBACK 0x80
    }
    done(null, sub);
  }

  /**
   * Strips the mount in place. Every delivery path hands this a packet of its own (aedes copies per
   * subscription, per retained message and per queued message), and on the offline-queue path aedes
   * sends the object it passed here whatever is returned, so a copy would leak the internal topic.
   */
  private authorizeForward(client: HubClient, packet: AedesPublishPacket): AedesPublishPacket | null {
    const mount = client[STATE]?.mount;
    if (!mount) return null;
    const topic = unmountOutbound(mount, packet.topic);
    if (topic === null) return null;
    packet.topic = topic;
    return packet;
  }
}

/** An internal topic as a device topic of this mountpoint, or null when it is neither. */
function parseMounted(mount: string, topic: string): DeviceTopic | null {
  const inner = unmount(mount, topic);
  return inner === null ? null : parseDeviceTopic(inner);
}

function describe(p: Principal): string {
  return p.kind === 'device' ? `device:${p.serial}` : `user:${p.userId}`;
}
