// The hub's MQTT broker: Aedes plus the hooks where user isolation lives (README "MQTT: topics,
// isolation, ACL"; the aedes internals relied on are named where they are used).
//
// - Identity comes from TLS before CONNECT (identity.ts) and is attached to the aedes client.
// - Every inbound topic is mounted in one place, the parser's `packet` event (mountInbound), so that
//   PUBLISH, SUBSCRIBE, UNSUBSCRIBE (no aedes hook) and the CONNECT will all hold internal topics, and
//   restored sessions and stored wills — already internal — need no second rewrite.
// - The hooks then only check: authenticate (identity, client id, will, session quota),
//   authorizePublish (ACL, then the kind's rule: publish-rules.ts), authorizeSubscribe (ACL and the
//   subscription limits), authorizeForward (strip the mount).
// - What a session may make the broker store is bounded (bounded-persistence.ts, persistent-sessions.ts).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { parseJson } from '../shared/json.js';
import {
  MAX_FILTERS_ANSWERED, MAX_FILTERS_PER_SUBSCRIBE, MAX_PACKET_BYTES, MAX_PACKET_BYTES_BEFORE_CONNACK, MAX_PAYLOAD_BYTES, MAX_SUBSCRIPTIONS_PER_SESSION,
} from '../shared/limits.js';
import type { Logger } from '../shared/log.js';
import { errorResult, requestIdOf } from '../shared/results.js';
import { type ErrorCode, StatusSchema } from '../shared/schemas.js';
import { type DeviceTopic, parseDeviceTopic, topics } from '../shared/topics.js';
import { maySubscribe, publishAllowed } from './acl.js';
import type { AuditWriter } from './audit-writer.js';
import { BoundedPersistence, type DropReason, type QueueBounds } from './bounded-persistence.js';
import type { DeviceEntry, DeviceTracker } from './device-tracker.js';
import type { Identity, IdentityResult } from './identity.js';
import {
  type InboundPacket, type Principal, internalClientId, mountInbound, mountOf, principalFromClientId, splitInternal, unmount, unmountOutbound,
} from './mountpoint.js';
import { type AsyncPersistence, type StoredPacket, memoryPersistence } from './persistence.js';
import { PersistentSessions, type SessionLimits } from './persistent-sessions.js';
import { judgePublish, mayRetain, type PublishContext } from './publish-rules.js';
import type { SessionRegistry } from './sessions.js';

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
  /** The filters this session holds or was just granted (internal topics), for the per-session limit. */
  filters: Set<string>;
  /** Subscriptions of a SUBSCRIBE with too many filters: each is refused. */
  oversized: WeakSet<object>;
  /** What the publish rules use, made at the first publish. */
  ctx: PublishContext | null;
}

type HubClient = Client & {
  [STATE]?: ConnState;
  will?: unknown;
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

export interface BrokerLimits {
  queue: QueueBounds;
  sessions: SessionLimits;
}

export interface HubBrokerDeps {
  sessions: SessionRegistry;
  tracker: DeviceTracker;
  audit: AuditWriter;
  log: Logger;
  /** Bounds per session and per user (hub.json; defaults in config.ts). */
  limits: BrokerLimits;
  /** Where sessions, queues and retained messages live (default: in memory). */
  persistence?: AsyncPersistence;
}

function refusal(returnCode: 2 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export class HubBroker {
  private aedes: Aedes | null = null;
  private persistence: BoundedPersistence | null = null;
  private readonly persistent: PersistentSessions;
  /** Subscription objects the ACL granted: only those are stored (bounded-persistence.ts). */
  private readonly grantedSubs = new WeakSet<object>();
  private sweep: NodeJS.Timeout | null = null;

  constructor(private readonly deps: HubBrokerDeps) {
    this.persistent = new PersistentSessions(this.deps.limits.sessions);
  }

  get instance(): Aedes {
    if (!this.aedes) throw new Error('broker not started');
    return this.aedes;
  }

  async start(): Promise<void> {
    this.persistence = new BoundedPersistence(this.deps.persistence ?? memoryPersistence(), {
      ...this.deps.limits.queue,
      granted: (sub) => this.grantedSubs.has(sub),
      onDrop: (clientId, packet, reason) => this.dropped(clientId, packet, reason),
    });
    this.aedes = await Aedes.createBroker({
      persistence: this.persistence,
      authenticate: (c, u, p, done) => this.authenticate(c as HubClient, done),
      authorizePublish: (c, packet, done) => this.authorizePublish(c as HubClient | null, packet, done),
      authorizeSubscribe: (c, sub, done) => this.authorizeSubscribe(c as HubClient, sub, done),
      authorizeForward: (c, packet) => this.authorizeForward(c as HubClient, packet),
    });
    this.aedes.on('client', (c) => this.persistent.connected(c.id, c.clean));
    this.aedes.on('clientDisconnect', (c) => this.persistent.disconnected(c.id));
    this.aedes.on('clientError', (client, err) => this.deps.log.debug('client error', { client: client.id, error: err.message }));
    this.aedes.on('connectionError', (_client, err) => this.deps.log.debug('connection error', { error: err.message }));
    const every = Math.min(60_000, Math.max(1_000, this.deps.limits.sessions.expiryMs / 2));
    this.sweep = setInterval(() => void this.expireSessions(), every);
    this.sweep.unref();
  }

  async stop(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
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
      filters: new Set(),
      oversized: new WeakSet(),
      ctx: null,
    };
    client[STATE] = state;
    if (!client._parser) throw new Error('aedes internals changed: client._parser is missing (pinned aedes version?)');
    const parser = client._parser;
    parser.prependListener('packet', (packet) => {
      if (packet.cmd === 'connect') state.requestedClientId = (packet as { clientId?: string }).clientId ?? '';
      if (state.mount) mountInbound(state.mount, packet);
      if (packet.cmd === 'subscribe' && (packet.subscriptions?.length ?? 0) > MAX_FILTERS_PER_SUBSCRIBE) {
        this.refuseOversized(state, packet.subscriptions!);
        if (packet.subscriptions!.length > MAX_FILTERS_ANSWERED) {
          packet.subscriptions = []; // aedes, whose listener runs next, has nothing left to do
          stream.destroy();
        }
      } else if (packet.cmd === 'unsubscribe') {
        for (const t of packet.unsubscriptions ?? []) state.filters.delete(t);
      }
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
      const remote = st?.remote.replace(/:[0-9?]+$/, '') ?? '?';
      this.deps.audit.addThrottled(`auth:${id ? describe(id) : remote}`, {
        userId: id?.userId ?? null, actor: id ? describe(id) : `remote:${remote}`, deviceSerial: id?.kind === 'device' ? id.serial : null,
        action: 'mqtt.refused', detail: { reason: why, remote: st?.remote ?? null },
      });
      done(refusal(code, why), false);
    };
    if (!st || !id) return refuse(5, st?.refusal ?? 'not authenticated');
    const requested = st.requestedClientId ?? '';
    if (id.kind === 'device' && requested !== id.serial) return refuse(5, `a device's client id must be its serial ${id.serial}`);
    if (requested === '' && !client.clean) return refuse(2, 'an empty client id needs a clean session'); // [MQTT-3.1.3-8]
    const will = client._will;
    if (will) {
      const why = willRefusal(id, st.mount!, will);
      if (why) return refuse(5, why);
    }
    // [MQTT-3.1.3-6] an empty client id gets a unique one: the `aedes_<uuid>` aedes put in client.id.
    const internal = internalClientId(id, requested === '' ? client.id : requested);
    if (!client.clean) {
      const quota = this.persistent.refusal(id, internal);
      if (quota) return refuse(5, quota);
    }
    client.id = internal;
    if (id.kind === 'device') st.device = this.deps.tracker.device(id.userId, id.serial);
    if (id.certSerial) {
      const session = { close: () => this.endSession(client) };
      this.deps.sessions.add(id.certSerial, id.notAfter, session);
      client.conn.once('close', () => this.deps.sessions.remove(id.certSerial!, session));
    }
    this.deps.log.info('connected', { who: id.kind === 'device' ? `device:${id.serial}` : `user:${id.label}`, remote: st.remote, clean: client.clean });
    done(null, true);
  }

  private authorizePublish(client: HubClient | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    // A will replayed after a restart comes with no client: its internal client id says whose it is,
    // and only a device's status can be one (authenticate refused anything else as a will).
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
      if (!t || !publishAllowed(principal, t) || (!client && t.kind !== 'status')) {
        const topic = unmount(mount, packet.topic) ?? packet.topic;
        this.deps.log.warn('publish refused', { who: describe(principal), topic });
        this.deps.audit.addThrottled(`acl:${describe(principal)}`, {
          userId: principal.userId, actor: describe(principal), deviceSerial: principal.kind === 'device' ? principal.serial : null,
          action: 'acl.publish.refused', detail: { topic: topic.slice(0, 256) },
        });
        return done(new Error('publish not authorized')); // aedes drops the connection
      }
      if (st) { st.lastTopic = packet.topic; st.lastParsed = t; }
    }
    if (!t) return done(new Error('publish not authorized'));
    if (!mayRetain(t.kind)) packet.retain = false; // a retained request would run again on every reconnect
    const ctx = st ? (st.ctx ??= this.context(st, principal)) : this.context(undefined, principal);
    const verdict = judgePublish(packet.payload as Buffer, t, ctx);
    if (!verdict.ok) {
      this.deps.log.warn('message dropped', { who: describe(principal), kind: t.kind, reason: verdict.reason.slice(0, 200) });
      return this.divert(packet, done);
    }
    if (verdict.payload) packet.payload = verdict.payload;
    done(null);
  }

  /** A connection's publish context (for a will replayed after a restart, one for that will). */
  private context(st: ConnState | undefined, principal: Principal): PublishContext {
    const { tracker, audit } = this.deps;
    const userId = principal.userId;
    const actor = principal.kind === 'device' ? `device:${principal.serial}` : `user:${st?.identity?.label ?? userId}`;
    return {
      userId, actor, tracker,
      label: st?.identity?.label ?? userId,
      entry: (t) => st?.device ?? tracker.device(userId, t.serial),
      enrolled: (t) => tracker.enrolled(userId, t.serial),
      audit: (t, action, detail) => audit.add({ userId, actor, deviceSerial: t.serial, action, detail }),
      answer: (t, id, code, message) => this.answer(userId, t.serial, id, code, message),
    };
  }

  /** Acknowledges but delivers nowhere: refused content is not a reason to cut a client off. */
  private divert(packet: PublishPacket, done: (err?: Error | null) => void): void {
    packet.topic = VOID_TOPIC;
    packet.retain = false;
    done(null);
  }

  /** Answers a request on its result topic, so the requester is never left waiting. */
  private answer(userId: string, serial: string, id: string, code: ErrorCode, message: string): void {
    this.aedes?.publish({
      cmd: 'publish', topic: mountOf(userId) + topics.cmdRes(serial, id), payload: Buffer.from(JSON.stringify(errorResult(id, code, message))),
      qos: 1, retain: false, dup: false,
    } as PublishPacket, () => {});
  }

  private authorizeSubscribe(client: HubClient, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void {
    const st = client[STATE];
    const id = st?.identity;
    // Topics are internal here: mounted on the way in, or restored from the session store as stored.
    const inner = id && st.mount ? unmount(st.mount, sub.topic) : null;
    if (st?.oversized.has(sub)) return done(null, null); // logged once for the packet
    let why: string | null = null;
    if (!id || inner === null || !maySubscribe(id, inner)) why = 'not allowed';
    else if (!st.filters.has(sub.topic) && st.filters.size >= MAX_SUBSCRIPTIONS_PER_SESSION) why = `the session holds ${MAX_SUBSCRIPTIONS_PER_SESSION} filters`;
    if (why) {
      this.deps.log.info('subscribe refused', { who: id ? describe(id) : 'unknown', filter: (inner ?? sub.topic).slice(0, 256), reason: why });
      if (id) {
        this.deps.audit.addThrottled(`acl-sub:${describe(id)}`, {
          userId: id.userId, actor: describe(id), deviceSerial: id.kind === 'device' ? id.serial : null,
          action: 'acl.subscribe.refused', detail: { filter: (inner ?? sub.topic).slice(0, 256), reason: why },
        });
      }
      return done(null, null); // SUBACK 0x80
    }
    st!.filters.add(sub.topic);
    this.grantedSubs.add(sub);
    done(null, sub);
  }

  /**
   * Every filter of a SUBSCRIBE with too many is refused (SUBACK 0x80), or the connection is closed
   * when there are far too many; one log line and audit entry for the packet.
   */
  private refuseOversized(st: ConnState, subs: Array<{ topic: string }>): void {
    const closing = subs.length > MAX_FILTERS_ANSWERED;
    if (!closing) for (const s of subs) st.oversized.add(s);
    const id = st.identity;
    const reason = `${subs.length} filters in one SUBSCRIBE; at most ${MAX_FILTERS_PER_SUBSCRIBE}${closing ? ': connection closed' : ''}`;
    this.deps.log.warn('subscribe refused', { who: id ? describe(id) : 'unknown', reason });
    if (id) {
      this.deps.audit.addThrottled(`acl-sub:${describe(id)}`, {
        userId: id.userId, actor: describe(id), deviceSerial: id.kind === 'device' ? id.serial : null,
        action: 'acl.subscribe.refused', detail: { reason },
      });
    }
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

  // ---- sessions the hub ends -----------------------------------------------------------------------

  /**
   * Ends a session for the hub's own reasons (its certificate was revoked, replaced or expired). Its
   * will is dropped — a revoked client's last word is not published — and a device is marked offline
   * by the hub instead.
   */
  private endSession(client: HubClient): void {
    const st = client[STATE];
    client.will = null;
    client._will = null;
    void this.persistence?.delWill({ id: client.id }).catch(() => {});
    const id = st?.identity;
    if (id?.kind === 'device' && this.aedes) {
      const status = { v: 1 as const, online: false, ts: Date.now() };
      this.aedes.publish({
        cmd: 'publish', topic: mountOf(id.userId) + topics.status(id.serial), payload: Buffer.from(JSON.stringify(status)),
        qos: 1, retain: true, dup: false,
      } as PublishPacket, () => {});
      this.deps.tracker.status(st!.device ?? this.deps.tracker.device(id.userId, id.serial), status);
    }
    client.close();
  }

  /** A message a session will not get: a request in it is answered, so nobody waits forever. */
  private dropped(clientId: string, packet: StoredPacket, reason: DropReason): void {
    this.deps.log.debug('queued message dropped', { client: clientId, reason });
    const where = splitInternal(packet.topic);
    const t = where ? parseDeviceTopic(where.inner) : null;
    if (!where || t?.kind !== 'cmd-req') return;
    const id = requestIdOf(parseJson(packet.payload));
    if (!id) return;
    const why = reason === 'expired'
      ? `the Pi ${t.serial} did not connect for ${duration(this.deps.limits.sessions.expiryMs)}; its session at the hub expired`
      : `the hub already holds ${this.deps.limits.queue.maxMessages} messages (or ${this.deps.limits.queue.maxBytes >> 20} MiB) for the Pi ${t.serial}, which is offline or slow`;
    this.answer(where.userId, t.serial, id, 'undeliverable', `not delivered: ${why}`);
    this.deps.audit.add({ userId: where.userId, actor: 'hub', deviceSerial: t.serial, action: 'cmd.undeliverable', detail: { id, reason } });
  }

  /** Drops persistent sessions nobody resumed within the expiry, with what they queued. */
  async expireSessions(now = Date.now()): Promise<void> {
    for (const clientId of this.persistent.expired(now)) {
      try {
        const n = await this.persistence!.dropSession(clientId);
        this.deps.log.info('persistent session expired', { client: clientId, dropped: n });
      } catch (err) {
        this.deps.log.error('cannot drop an expired session', { client: clientId, error: (err as Error).message });
      }
    }
  }
}

/**
 * Why a will may not be: only a device's own status, valid and small, can be one. A request as a will
 * would run a command when the connection drops — also after its certificate was revoked.
 */
function willRefusal(id: Identity, mount: string, will: { topic: string; payload: Buffer }): string | null {
  const t = parseMounted(mount, will.topic);
  const shown = unmount(mount, will.topic) ?? will.topic;
  if (!t || !publishAllowed(id, t) || t.kind !== 'status') return `will topic not allowed: ${shown} (a will may only be a device's status)`;
  if (will.payload.length > MAX_PAYLOAD_BYTES.status || !StatusSchema.safeParse(parseJson(will.payload)).success) return 'the will payload is not a valid status';
  return null;
}

/** An internal topic as a device topic of this mountpoint, or null when it is neither. */
function parseMounted(mount: string, topic: string): DeviceTopic | null {
  const inner = unmount(mount, topic);
  return inner === null ? null : parseDeviceTopic(inner);
}

/** 30 days, 5 hours, 2 s: how long a bound is, for a message. */
function duration(ms: number): string {
  if (ms >= 86_400_000) return `${+(ms / 86_400_000).toFixed(1)} days`;
  if (ms >= 3_600_000) return `${+(ms / 3_600_000).toFixed(1)} hours`;
  return `${Math.round(ms / 1000)} s`;
}

function describe(p: Principal): string {
  return p.kind === 'device' ? `device:${p.serial}` : `user:${p.userId}`;
}

