// The hub's MQTT broker: Aedes plus the hooks where user isolation lives (README "MQTT: topics,
// isolation, ACL"; the aedes internals relied on are named where they are used).
//
// - Identity comes from TLS before CONNECT (identity.ts) and is attached to the aedes client.
// - Every inbound topic is mounted in one place, the parser's `packet` event (inbound.ts), so that
//   PUBLISH, SUBSCRIBE, UNSUBSCRIBE (no aedes hook) and the CONNECT will all hold internal topics, and
//   restored sessions and stored wills — already internal — need no second rewrite.
// - The hooks then only check: authenticate (identity, client id, will, session quota),
//   authorizePublish (ACL, then the kind's rule: publish-rules.ts), authorizeSubscribe (ACL and the
//   subscription limits), authorizeForward (strip the mount).
// - What a session may make the broker store is bounded (bounded-persistence.ts, persistent-sessions.ts).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type PublishPacket, type Subscription } from 'aedes';
import { parseJson } from '../../shared/json.js';
import { DROP_QOS0_BACKLOG_BYTES, MAX_FILTERS_PER_SUBSCRIBE, MAX_PAYLOAD_BYTES, MAX_SUBSCRIPTIONS_PER_SESSION } from '../../shared/limits.js';
import type { Logger } from '../../shared/log.js';
import { type ErrorCode, StatusSchema } from '../../shared/schemas.js';
import { type DeviceTopic, parseDeviceTopic, topicMatches } from '../../shared/topics.js';
import type { AuditWriter } from '../audit-writer.js';
import type { DeviceEntry, DeviceTracker } from '../device-tracker.js';
import { maySubscribe, publishAllowed } from './acl.js';
import { BoundedPersistence, type SharedQueueCounts } from './bounded-persistence.js';
import { type ConnState, type HubClient, STATE } from './client-state.js';
import { NO_HIGH_WATER_MARK, RecentDeliveries } from './deliveries.js';
import { watchInbound } from './inbound.js';
import { type SessionHolders, connectionName, nodeOf } from './holders.js';
import { settleEarlierRun } from './earlier-run.js';
import { pruneRetained } from './retained-sweep.js';
import { HubVoice } from './hub-voice.js';
import type { Identity, IdentityResult } from './identity.js';
import { type Principal, internalClientId, mountOf, principalFromClientId, unmount, unmountOutbound } from './mountpoint.js';
import { type AsyncPersistence, type StoredPacket, memoryPersistence } from './persistence.js';
import { judgePublish, mayRetain, type PublishContext } from './publish-rules.js';
import { type BrokerLimits, SessionKeeper } from './session-keeper.js';
import { DEFAULT_FLEET_LIMITS, type FleetLimits, type StatsRate } from '../fleet-limits.js';
import { type SessionRegistry, credentialOf } from './sessions.js';

export type { BrokerLimits } from './session-keeper.js';

/** Where a message the hub refused but must not disconnect for goes: no client can subscribe to it. */
const VOID_TOPIC = '$pifleet/void';

export interface HubBrokerDeps {
  sessions: SessionRegistry;
  tracker: DeviceTracker;
  audit: AuditWriter;
  log: Logger;
  /** Bounds per session and per user (hub.json; defaults in config.ts). */
  limits: BrokerLimits;
  /** Where sessions, queues and retained messages live (default: aedes-persistence in memory). */
  persistence?: AsyncPersistence;
  /** How messages are routed between clients (default: aedes's in-process mqemitter). */
  emitter?: unknown;
  /** With several hub nodes (broker/cluster): who holds each device's session, and the queues' counts. */
  holders?: SessionHolders;
  sharedQueues?: SharedQueueCounts;
  /**
   * This hub is the only broker on its persistence (default true): at start, the wills and online
   * statuses an earlier run left are settled (earlier-run.ts). False where other nodes share it.
   */
  singleNode?: boolean;
  /** Connections and stats rate (hub.json; defaults in fleet-limits.ts). */
  fleet?: FleetLimits;
}

function refusal(returnCode: 2 | 3 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export class HubBroker {
  private aedes: Aedes | null = null;
  /** Subscription objects the ACL granted: only those are stored (bounded-persistence.ts). */
  private readonly grantedSubs = new WeakSet<object>();
  private readonly voice = new HubVoice(() => this.aedes);
  private readonly keeper: SessionKeeper;
  /** Connections of this node that claimed a device's session (holders.ts). */
  private claims = 0;
  private persistence: BoundedPersistence | null = null;
  private readonly fleet: FleetLimits;
  /** Connections past CONNACK, against fleet.maxConnections. */
  private connections = 0;

  constructor(private readonly deps: HubBrokerDeps) {
    this.keeper = new SessionKeeper({ ...deps, voice: this.voice });
    this.fleet = deps.fleet ?? DEFAULT_FLEET_LIMITS;
  }

  get instance(): Aedes {
    if (!this.aedes) throw new Error('broker not started');
    return this.aedes;
  }

  async start(): Promise<void> {
    const persistence = this.persistence = new BoundedPersistence(this.deps.persistence ?? memoryPersistence(), {
      ...this.deps.limits.queue,
      granted: (sub) => this.grantedSubs.has(sub),
      onDrop: (clientId, packet, reason) => this.keeper.dropped(clientId, packet, reason),
      ...(this.deps.sharedQueues ? { shared: this.deps.sharedQueues } : {}),
    });
    this.aedes = await Aedes.createBroker({
      persistence,
      ...(this.deps.emitter ? { mq: this.deps.emitter } : {}),
      authenticate: (c, u, p, done) => this.authenticate(c as HubClient, done),
      authorizePublish: (c, packet, done) => this.authorizePublish(c as HubClient | null, packet, done),
      authorizeSubscribe: (c, sub, done) => this.authorizeSubscribe(c as HubClient, sub, done),
      authorizeForward: (c, packet) => this.authorizeForward(c as HubClient, packet),
    });
    this.keeper.start(this.aedes, persistence);
    // A persistence that fails (a full disk, Redis away) makes aedes emit 'error' (a failed queueing,
    // a will it could not replay): logged, never a crash.
    (this.aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => this.deps.log.error('broker error', { error: err.message }));
    if (this.deps.singleNode ?? true) await settleEarlierRun(this.aedes, persistence, this.voice, this.deps.tracker, this.deps.log);
    this.aedes.on('clientError', (client, err) => this.deps.log.debug('client error', { client: client.id, error: err.message }));
    this.aedes.on('connectionError', (_client, err) => this.deps.log.debug('connection error', { error: err.message }));
  }

  /**
   * Deletes the retained messages of Pis that are no longer enrolled (retained-sweep.ts): under
   * `pattern`, by default every Pi's. Never throws: a failure is logged and the next sweep tries again.
   */
  async pruneRetained(pattern?: string): Promise<number> {
    const persistence = this.persistence;
    if (!persistence) return 0;
    try {
      const n = await pruneRetained(persistence, (userId, serial) => this.deps.tracker.enrolled(userId, serial), pattern);
      if (n > 0) this.deps.log.info('deleted retained messages of removed Pis', { messages: n });
      return n;
    } catch (err) {
      this.deps.log.warn('cannot delete the retained messages of removed Pis', { error: (err as Error).message });
      return 0;
    }
  }

  /** Stops aedes, then closes the persistence (aedes never does). */
  async stop(): Promise<void> {
    this.keeper.stop();
    const a = this.aedes;
    this.aedes = null;
    if (!a) return;
    await new Promise<void>((resolve) => a.close(() => resolve()));
    // Closing a client publishes its will without waiting for it: a few turns let those writes finish.
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    await this.persistence?.destroy().catch((err: Error) => this.deps.log.warn('closing the MQTT store', { error: err.message }));
  }

  /**
   * Hands a new connection (a WebSocket stream or a TLS socket) to aedes, with who it is and its accept
   * gate's pass (broker/accept-gate.ts): `connecting` when its CONNECT arrives, `done` once aedes has
   * connected it (CONNACK sent, the session restored).
   */
  handle(stream: Duplex, req: IncomingMessage | null, who: IdentityResult, remote: string, pass?: { connecting(): void; done(): void }): void {
    // The hub stops taking connections before it stops its broker, and closes them after: one that was
    // accepted just before is dropped here.
    if (!this.aedes) return void stream.destroy();
    // aedes would keep the upgrade request (headers, raw headers, stream state: ~2 KB) for the
    // connection's lifetime only to hand it to hooks that read the identity resolved here instead.
    const client = this.aedes.handle(stream) as unknown as HubClient;
    if (pass) client.once('connected', pass.done);
    const identity = who.ok ? who.identity : null;
    const tlsSocket = (req?.socket ?? stream) as Partial<TLSSocket>;
    const state: ConnState = {
      identity,
      device: null,
      lastTopic: null,
      lastParsed: null,
      refusal: who.ok ? null : who.reason,
      mount: identity ? mountOf(identity.userId) : null,
      requestedClientId: null,
      remote,
      tlsResumed: tlsSocket.isSessionReused?.() === true,
      filters: new Set(),
      oversized: null,
      ctx: null,
      delivered: null,
      connecting: pass ? pass.connecting : null,
    };
    client[STATE] = state;
    client.duplicates = NO_HIGH_WATER_MARK; // exact deduplication instead, in authorizeForward
    watchInbound(client, state, stream, this.deps.log, (count, closing) => {
      const reason = `${count} filters in one SUBSCRIBE; at most ${MAX_FILTERS_PER_SUBSCRIBE}${closing ? ': connection closed' : ''}`;
      this.deps.log.warn('subscribe refused', { who: identity ? describe(identity) : 'unknown', reason });
      this.auditRefusal('acl.subscribe.refused', identity, { reason });
    });
  }

  // ---- hooks -------------------------------------------------------------------------------------

  private authenticate(client: HubClient, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const st = client[STATE];
    const id = st?.identity;
    const refuse = (code: 2 | 3 | 5, why: string) => {
      this.deps.log.info('connection refused', { remote: st?.remote, client: st?.requestedClientId ?? undefined, reason: why });
      this.auditRefusal('mqtt.refused', id ?? null, { reason: why, remote: st?.remote ?? null }, st?.remote.replace(/:[0-9?]+$/, ''));
      done(refusal(code, why), false);
    };
    if (!st || !id) return refuse(5, st?.refusal ?? 'not authenticated');
    if (this.connections >= this.fleet.maxConnections) return refuse(3, `the hub holds its maximum of ${this.fleet.maxConnections} connections (maxConnections)`);
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
      const quota = this.keeper.refusal(id, internal);
      if (quota) return refuse(5, quota);
    }
    client.id = internal;
    if (id.kind === 'device') st.device = this.deps.tracker.device(id.userId, id.serial);
    const holders = this.deps.holders;
    if (holders && id.kind === 'device') {
      // Claimed before CONNACK, so the connection this one replaces (here or on another node) finds
      // itself replaced before its will could go out.
      const holding = connectionName(this.instance.id, ++this.claims);
      holders.claim(internal, holding).then(() => {
        if (client.closed) return done(refusal(3, 'closed while connecting'), false); // aedes ignores it
        st.holding = holding;
        this.accept(client, id, st, done);
      }, (err: Error) => refuse(3, `the hub nodes' shared store is unreachable (${err.message}); try again`));
      return;
    }
    this.accept(client, id, st, done);
  }

  private accept(client: HubClient, id: Identity, st: ConnState, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const credential = credentialOf(id);
    if (credential) {
      const connection = { close: () => this.keeper.end(client) };
      this.deps.sessions.add(credential, id.notAfter, connection);
      client.conn.once('close', () => this.deps.sessions.remove(credential, connection));
    }
    this.connections++;
    client.conn.once('close', () => { this.connections--; });
    this.deps.log.info('connected', {
      who: id.kind === 'device' ? `device:${id.serial}` : `user:${id.label}`, remote: st.remote, clean: client.clean,
      resumed: st.tlsResumed, // a TLS session ticket saved the handshake's signatures
    });
    done(null, true);
  }

  private authorizePublish(client: HubClient | null, packet: PublishPacket, done: (err?: Error | null) => void, asked = false): void {
    if (!asked && this.deps.holders && isWill(client, packet)) return this.askHolder(this.deps.holders, client, packet, done);
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
        this.auditRefusal('acl.publish.refused', principal, { topic: topic.slice(0, 256) });
        return done(new Error('publish not authorized')); // aedes drops the connection
      }
      if (st) { st.lastTopic = packet.topic; st.lastParsed = t; }
    }
    if (!t) return done(new Error('publish not authorized'));
    if (!mayRetain(t.kind)) packet.retain = false; // a retained request would run again on every reconnect
    const ctx = st ? (st.ctx ??= this.context(st, principal)) : this.context(undefined, principal);
    const verdict = judgePublish(packet.payload as Buffer, t, ctx);
    if (!verdict.ok) {
      if (!verdict.quiet) this.deps.log.warn('message dropped', { who: describe(principal), kind: t.kind, reason: verdict.reason.slice(0, 200) });
      return this.divert(packet, done);
    }
    if (verdict.payload) packet.payload = verdict.payload;
    if (client && packet.qos > 0 && this.persistence?.durable) return this.storeBeforeAck(packet, done);
    done(null);
  }

  /**
   * A will goes out only while its connection still holds the session: a Pi that moved to another node
   * (or reconnected here) is not marked offline by the connection it left. A will replayed for a node
   * that died (no client, or another connection's) goes out only if that node still held the session.
   */
  private askHolder(holders: SessionHolders, client: HubClient | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const stored = packet as { clientId?: string; brokerId?: string };
    const clientId = client && packet === client.will ? client.id : stored.clientId ?? client?.id ?? '';
    const mine = client && packet === client.will ? client[STATE]?.holding ?? null : null;
    holders.holder(clientId).then((holder) => {
      const current = holder === null || (mine ? holder === mine : nodeOf(holder) === stored.brokerId);
      if (current) return this.authorizePublish(client, packet, done, true);
      this.deps.log.info('will not published: a newer connection holds the session', { client: clientId, node: nodeOf(holder!) });
      this.divert(packet, done);
    }, (err: Error) => {
      this.deps.log.warn('cannot tell who holds a session; its will goes out', { client: clientId, error: err.message });
      this.authorizePublish(client, packet, done, true);
    });
  }

  /**
   * aedes 1.2 writes a QoS 1 PUBACK before it stores the message (docs/INTERNALS.md, "Queues"): on a store
   * that outlives the process, the message is stored here first, so a crash after the PUBACK loses
   * nothing its sender was told is safe. aedes keeps the brokerId and brokerCounter given here and
   * skips storing the message again.
   */
  private storeBeforeAck(packet: PublishPacket, done: (err?: Error | null) => void): void {
    // While stop() closes aedes, closing clients publish their wills through here: aedes stores them
    // itself. Called back on a later turn: 10,000 wills answered at once recursed through aedes's
    // publish chain until the stack overflowed (the hub crashed on SIGTERM).
    const a = this.aedes as (Aedes & { counter: number }) | null;
    if (!a) return void setImmediate(done, null);
    const p = packet as PublishPacket & { brokerId?: string; brokerCounter?: number };
    p.brokerId = a.id;
    p.brokerCounter = ++a.counter;
    this.persistence!.storeBeforeAck(p as unknown as StoredPacket).then(() => done(null), (err: Error) => {
      this.deps.log.error('cannot store a message', { topic: packet.topic.slice(0, 200), error: err.message });
      done(err); // aedes drops the connection: the client sends it again
    });
  }

  /** A connection's publish context (for a will replayed after a restart, one for that will). */
  private context(st: ConnState | undefined, principal: Principal): PublishContext {
    return new ConnectionContext(this.deps.tracker, this.deps.audit, this.voice, this.fleet.stats, st, principal);
  }

  /** Acknowledges but delivers nowhere: refused content is not a reason to cut a client off. */
  private divert(packet: PublishPacket, done: (err?: Error | null) => void): void {
    packet.topic = VOID_TOPIC;
    packet.retain = false;
    done(null);
  }

  private authorizeSubscribe(client: HubClient, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void {
    const st = client[STATE];
    const id = st?.identity;
    // Topics are internal here: mounted on the way in, or restored from the session store as stored.
    const inner = id && st.mount ? unmount(st.mount, sub.topic) : null;
    if (st?.oversized?.has(sub)) return done(null, null); // logged once for the packet
    let why: string | null = null;
    if (!id || inner === null || !maySubscribe(id, inner)) why = 'not allowed';
    else if (!st.filters.has(sub.topic) && st.filters.size >= MAX_SUBSCRIPTIONS_PER_SESSION) why = `the session holds ${MAX_SUBSCRIPTIONS_PER_SESSION} filters`;
    if (why) {
      this.deps.log.info('subscribe refused', { who: id ? describe(id) : 'unknown', filter: (inner ?? sub.topic).slice(0, 256), reason: why });
      if (id) this.auditRefusal('acl.subscribe.refused', id, { filter: (inner ?? sub.topic).slice(0, 256), reason: why });
      return done(null, null); // SUBACK 0x80
    }
    st!.filters.add(sub.topic);
    this.grantedSubs.add(sub);
    done(null, sub);
  }

  /** A refusal a client can provoke at will: audited at most once per client, kind and 10 s. */
  private auditRefusal(action: string, p: Principal | null, detail: Record<string, unknown>, remote?: string): void {
    const actor = p ? describe(p) : `remote:${remote ?? '?'}`;
    this.deps.audit.addThrottled(`${action}:${actor}`, {
      userId: p?.userId ?? null, actor, deviceSerial: p?.kind === 'device' ? p.serial : null, action, detail,
    });
  }

  /**
   * Strips the mount in place. Every delivery path hands this a packet of its own (aedes copies per
   * subscription, per retained message and per queued message), and on the offline-queue path aedes
   * sends the object it passed here whatever is returned, so a copy would leak the internal topic.
   */
  private authorizeForward(client: HubClient, packet: AedesPublishPacket): AedesPublishPacket | null {
    const st = client[STATE];
    const mount = st?.mount;
    if (!mount) return null;
    // [MQTT-3.2.0-1] CONNACK comes first. aedes restores a persistent session's subscriptions before it
    // writes CONNACK and writes what they match meanwhile (mqtt.db's commits leave turns in between):
    // mqtt.js then stalls (docs/INTERNALS.md, "Queues"). Such a message is in the session's queue, which
    // aedes sends right after CONNACK; checked before `delivered`, so that sending is not a duplicate.
    if (!client.connackSent) return null;
    // The same QoS 1 message twice (from the session's queue and live, as a session resumes): once.
    const { brokerId, brokerCounter } = packet as AedesPublishPacket & { brokerId?: string | null; brokerCounter?: number };
    if (packet.qos > 0 && brokerId && brokerCounter !== undefined && !(st.delivered ??= new RecentDeliveries()).fresh(brokerId, brokerCounter)) return null;
    // A client that does not keep up loses QoS 0 messages (stats: the next sample replaces them)
    // rather than making the hub buffer without bound (inbound.ts closes it further on).
    if (packet.qos === 0 && client.conn.writableLength > DROP_QOS0_BACKLOG_BYTES) return null;
    // A retained message given at SUBSCRIBE goes at the QoS granted at most [MQTT-3.8.4-6]. aedes looks
    // the subscription up by the topic it delivers, after this hook stripped it, so it never found one
    // and a QoS 0 subscriber got QoS 1 (every PUBLISH to be acknowledged). Only there: live messages come
    // through each subscription's own QoS, and a queued one was queued for a QoS 1 subscription.
    if (packet.qos > 0 && packet.retain && !grantsQos1(client, packet.topic)) packet.qos = 0;
    const topic = unmountOutbound(mount, packet.topic);
    if (topic === null) return null;
    packet.topic = topic;
    if (packet.qos > 1) packet.qos = 1; // the QoS granted at most (inbound.ts)
    return packet;
  }
}

/** Does one of the client's subscriptions that match this internal topic have QoS 1 (or more)? */
function grantsQos1(client: HubClient, topic: string): boolean {
  const subs = (client as unknown as { subscriptions?: Record<string, { qos?: number }> }).subscriptions ?? {};
  for (const filter in subs) if ((subs[filter]!.qos ?? 0) > 0 && topicMatches(filter, topic)) return true;
  return false;
}

/**
 * What the publish rules see of one connection. Kept for the connection's lifetime (every Pi publishes),
 * so its functions are methods: one object per connection, not six closures and their scope
 * (docs/BENCHMARKING.md, "Memory per connection, where it goes").
 */
class ConnectionContext implements PublishContext {
  readonly userId: string;
  readonly actor: string;
  readonly label: string;

  constructor(
    readonly tracker: DeviceTracker,
    private readonly auditor: AuditWriter,
    private readonly voice: HubVoice,
    readonly statsRate: StatsRate,
    private readonly st: ConnState | undefined,
    principal: Principal,
  ) {
    this.userId = principal.userId;
    this.label = st?.identity?.label ?? principal.userId;
    this.actor = principal.kind === 'device' ? `device:${principal.serial}` : `user:${this.label}`;
  }

  entry(t: DeviceTopic): DeviceEntry {
    return this.st?.device ?? this.tracker.device(this.userId, t.serial);
  }

  enrolled(t: DeviceTopic): boolean {
    return this.tracker.enrolled(this.userId, t.serial);
  }

  audit(t: DeviceTopic, action: string, detail: unknown): void {
    this.auditor.add({ userId: this.userId, actor: this.actor, deviceSerial: t.serial, action, detail });
  }

  auditThrottled(t: DeviceTopic, action: string, detail: unknown): void {
    this.auditor.addThrottled(`${action}:${this.actor}`, { userId: this.userId, actor: this.actor, deviceSerial: t.serial, action, detail });
  }

  answer(t: DeviceTopic, id: string, code: ErrorCode, message: string): void {
    this.voice.answer(this.userId, t.serial, id, code, message);
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

/**
 * Whether aedes is publishing a will: a closing client's own (`client.will`), or one replayed from the
 * store for a node it thinks dead, which carries the broker id that stored it (no client publish does).
 */
function isWill(client: HubClient | null, packet: PublishPacket): boolean {
  return client === null || packet === client.will || typeof (packet as { brokerId?: unknown }).brokerId === 'string';
}

/** An internal topic as a device topic of this mountpoint, or null when it is neither. */
function parseMounted(mount: string, topic: string): DeviceTopic | null {
  const inner = unmount(mount, topic);
  return inner === null ? null : parseDeviceTopic(inner);
}

function describe(p: Principal): string {
  return p.kind === 'device' ? `device:${p.serial}` : `user:${p.userId}`;
}

