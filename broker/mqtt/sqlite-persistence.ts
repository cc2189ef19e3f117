// An Aedes persistence on SQLite (better-sqlite3, WAL, `<data-dir>/mqtt.db`): retained messages,
// subscriptions, queued QoS 1/2 messages, QoS 2 state and wills outlive a restart or a crash of the hub
// (docs/ARCHITECTURE.md, "Files on disk"; what aedes expects of it: docs/INTERNALS.md).
//
// - Subscriptions are also held in memory (a topic trie, as aedes-persistence's own stores and
//   aedes-cached-persistence do): loaded at setup, written through. aedes looks them up on every publish.
// - Every write runs at once, inside one transaction per turn of the event loop, committed at its end
//   (setImmediate). What aedes must not lose once it acknowledges — a queued message, a retained
//   message, a will, a subscription, a QoS 2 packet — resolves only after that commit: aedes sends
//   PUBACK after `outgoingEnqueueCombi` resolves. Marking a message sent or acknowledged resolves at
//   once: losing that in a crash only sends the message again (QoS 1 is at least once).
// - Streams read in pages of 64 rows, so a long queue or many retained messages never sit in memory whole.
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type Database from 'better-sqlite3';
import { type Db, openDb, statementCache } from '../store/db.js';
import { decodePacket, encodePacket, payloadBytes } from './packet-codec.js';
import type { AsyncPersistence, ClientRef, SessionLedger, StoredPacket, StoredSession, StoredSubscription } from './persistence.js';
import { MQTT_MIGRATIONS } from './sqlite-schema.js';

interface SubRecord { qos: number; rh?: number; rap?: boolean; nl?: boolean; subscriptionIdentifier?: number }
interface TopicMatch { clientId: string; topic: string; qos: number }
interface Trie {
  subscriptionsCount: number;
  add(topic: string, value: object): void;
  remove(topic: string, value: object): void;
  match(topic: string): TopicMatch[];
}

// aedes-persistence's own building blocks (dependencies of aedes): the same trie and topic matcher as
// its in-memory store, and aedes's packet shape.
const require = createRequire(import.meta.url);
const QlobberSub = require('qlobber/aedes/qlobber-sub') as new (o: object) => Trie;
const { QlobberTrue } = require('qlobber') as { QlobberTrue: new (o: object) => { add(t: string): void; test(t: string): boolean } };
const Packet = require('aedes-packet') as new (p: object) => StoredPacket;

const QLOBBER_OPTIONS = { wildcard_one: '+', wildcard_some: '#', separator: '/' };
const PAGE = 64;
/** The WAL is cut back to this after a checkpoint (it otherwise keeps its largest size). */
const WAL_LIMIT_BYTES = 64 * 1024 * 1024;

interface PacketRow { meta: string; kind: number; payload: Buffer | null }
interface OutgoingRow extends PacketRow { id: number; message_id: number | null }

export class SqlitePersistence implements AsyncPersistence, SessionLedger {
  readonly ledger: SessionLedger = this;
  private readonly q: (sql: string) => Database.Statement;
  /** clientId → topic → options: the subscriptions, as the store holds them. */
  private readonly subs = new Map<string, Map<string, SubRecord>>();
  private readonly trie = new QlobberSub(QLOBBER_OPTIONS);
  /** Rows in `outgoing` per client: a PUBACK of a session with nothing queued costs no query. */
  private readonly queued = new Map<string, number>();
  private brokerRef: { id: string } | null = null;
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private destroyed = false;

  private constructor(private readonly db: Db) {
    this.q = statementCache(db);
  }

  /** Opens (creating it 0600) the database file and brings it to its schema. */
  static open(file: string): SqlitePersistence {
    const db = openDb(file, { migrations: MQTT_MIGRATIONS });
    db.pragma(`journal_size_limit = ${WAL_LIMIT_BYTES}`);
    return new SqlitePersistence(db);
  }

  /** The broker the store was set up with (aedes-persistence's suite reads it). */
  get broker(): { id: string } | null { return this.brokerRef; }

  /** aedes requires setup to be an async function (it checks the constructor's name). */
  async setup(broker: unknown): Promise<void> {
    this.brokerRef = broker as { id: string };
    this.subs.clear();
    this.queued.clear();
    const rows = this.q('SELECT client_id, topic, qos, options FROM subscriptions').all() as Array<{ client_id: string; topic: string; qos: number; options: string }>;
    for (const r of rows) this.remember(r.client_id, [{ topic: r.topic, qos: r.qos, ...(JSON.parse(r.options) as object) }]);
    for (const r of this.q('SELECT client_id, count(*) AS n FROM outgoing GROUP BY client_id').all() as Array<{ client_id: string; n: number }>) {
      this.queued.set(r.client_id, r.n);
    }
  }

  // ---- transactions ------------------------------------------------------------------------------

  /** Runs a write now, inside this turn's transaction (committed at its end). */
  private write<T>(fn: () => T): T {
    if (this.destroyed) throw new Error('the MQTT store is closed');
    if (!this.db.inTransaction) {
      this.db.exec('BEGIN');
      setImmediate(this.commit);
    }
    return fn();
  }

  /** The same, resolving once the transaction is committed. */
  private durable<T>(fn: () => T): Promise<T> {
    let result: T;
    try {
      result = this.write(fn);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve: () => resolve(result), reject }));
  }

  private readonly commit = (): void => {
    const waiting = this.waiters;
    this.waiters = [];
    try {
      if (this.db.open && this.db.inTransaction) this.db.exec('COMMIT');
    } catch (err) {
      try { if (this.db.inTransaction) this.db.exec('ROLLBACK'); } catch { /* the commit's error is the one to report */ }
      for (const w of waiting) w.reject(err as Error);
      return;
    }
    for (const w of waiting) w.resolve();
  };

  // ---- retained messages -------------------------------------------------------------------------

  storeRetained(packet: StoredPacket): Promise<void> {
    if (payloadBytes(packet) === 0) return this.durable(() => { this.q('DELETE FROM retained WHERE topic = ?').run(packet.topic); });
    const e = encodePacket({ ...packet });
    return this.durable(() => {
      this.q('INSERT INTO retained (topic, meta, kind, payload) VALUES (?, ?, ?, ?) ON CONFLICT(topic) DO UPDATE SET meta = excluded.meta, kind = excluded.kind, payload = excluded.payload')
        .run(packet.topic, e.meta, e.kind, e.payload);
    });
  }

  createRetainedStream(pattern: string): Readable {
    return Readable.from(this.retainedMatching(pattern));
  }

  createRetainedStreamCombi(patterns: string[]): Readable {
    const self = this;
    return Readable.from((function* () { for (const p of patterns) yield* self.retainedMatching(p); })());
  }

  /** Retained messages matching a filter: only the topics under its literal prefix are read. */
  private *retainedMatching(pattern: string): Generator<StoredPacket> {
    const matcher = new QlobberTrue(QLOBBER_OPTIONS);
    matcher.add(pattern);
    const levels = pattern.split('/');
    const wild = levels.findIndex((l) => l === '+' || l === '#');
    if (wild < 0) {
      const row = this.q('SELECT meta, kind, payload FROM retained WHERE topic = ?').get(pattern) as PacketRow | undefined;
      if (row) yield decodePacket<StoredPacket>(row.meta, row.kind, row.payload);
      return;
    }
    const prefix = levels.slice(0, wild).join('/');
    if (wild > 0 && levels[wild] === '#') { // `a/#` also matches `a` itself [MQTT-4.7.1-2]
      const row = this.q('SELECT meta, kind, payload FROM retained WHERE topic = ?').get(prefix) as PacketRow | undefined;
      if (row) yield decodePacket<StoredPacket>(row.meta, row.kind, row.payload);
    }
    // Topics under `prefix/` sort between `prefix/` and `prefix0` ('0' follows '/').
    const page = wild === 0
      ? (after: string) => this.q('SELECT topic, meta, kind, payload FROM retained WHERE topic > ? ORDER BY topic LIMIT ?').all(after, PAGE)
      : (after: string) => this.q('SELECT topic, meta, kind, payload FROM retained WHERE topic > ? AND topic < ? ORDER BY topic LIMIT ?').all(after, `${prefix}0`, PAGE);
    let after = wild === 0 ? '' : `${prefix}.`; // '.' sorts just before '/'
    for (;;) {
      const rows = page(after) as Array<PacketRow & { topic: string }>;
      for (const r of rows) if (matcher.test(r.topic)) yield decodePacket<StoredPacket>(r.meta, r.kind, r.payload);
      if (rows.length < PAGE) return;
      after = rows.at(-1)!.topic;
    }
  }

  // ---- subscriptions -----------------------------------------------------------------------------

  /** Subscriptions into the in-memory index, as aedes-persistence's memory store keeps them. */
  private remember(clientId: string, subs: StoredSubscription[]): void {
    let stored = this.subs.get(clientId);
    if (!stored) this.subs.set(clientId, (stored = new Map()));
    for (const sub of subs) {
      const before = stored.get(sub.topic);
      const record: SubRecord = { qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl };
      const id = (sub as { subscriptionIdentifier?: number }).subscriptionIdentifier;
      if (id !== undefined) record.subscriptionIdentifier = id;
      if (sub.qos > 0) this.trie.add(sub.topic, { clientId, topic: sub.topic, qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl });
      else if (before && before.qos > 0) this.trie.remove(sub.topic, { clientId, topic: sub.topic });
      stored.set(sub.topic, record);
    }
  }

  addSubscriptions(client: ClientRef, subs: StoredSubscription[]): Promise<void> {
    this.remember(client.id, subs);
    return this.durable(() => {
      const upsert = this.q('INSERT INTO subscriptions (client_id, topic, qos, options) VALUES (?, ?, ?, ?) '
        + 'ON CONFLICT(client_id, topic) DO UPDATE SET qos = excluded.qos, options = excluded.options');
      for (const s of subs) {
        const { topic, qos, ...options } = s;
        upsert.run(client.id, topic, qos, JSON.stringify(options));
      }
    });
  }

  removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    const stored = this.subs.get(client.id);
    if (stored) {
      for (const topic of topics) {
        const s = stored.get(topic);
        if (s === undefined) continue;
        if (s.qos > 0) this.trie.remove(topic, { clientId: client.id, topic });
        stored.delete(topic);
      }
      if (stored.size === 0) this.subs.delete(client.id);
    }
    return this.durable(() => {
      const del = this.q('DELETE FROM subscriptions WHERE client_id = ? AND topic = ?');
      for (const t of topics) del.run(client.id, t);
    });
  }

  async subscriptionsByClient(client: ClientRef): Promise<StoredSubscription[]> {
    const stored = this.subs.get(client.id);
    return stored ? [...stored].map(([topic, s]) => ({ topic, ...s })) : [];
  }

  async countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return { subsCount: this.trie.subscriptionsCount, clientsCount: this.subs.size };
  }

  async subscriptionsByTopic(topic: string): Promise<TopicMatch[]> {
    return this.trie.match(topic);
  }

  cleanSubscriptions(client: ClientRef): Promise<void> {
    const stored = this.subs.get(client.id);
    if (!stored) return Promise.resolve();
    for (const [topic, s] of stored) if (s.qos > 0) this.trie.remove(topic, { clientId: client.id, topic });
    this.subs.delete(client.id);
    return this.durable(() => { this.q('DELETE FROM subscriptions WHERE client_id = ?').run(client.id); });
  }

  getClientList(topic: string): Readable {
    const ids = [...this.subs].filter(([, topics]) => topics.has(topic)).map(([id]) => id);
    return Readable.from(ids);
  }

  // ---- the outgoing queue ------------------------------------------------------------------------

  outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    return this.outgoingEnqueueCombi([sub], packet);
  }

  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void> {
    if (subs.length === 0) return Promise.resolve();
    const p = new Packet(packet); // what aedes-persistence queues: aedes's fields, no message id yet
    const e = encodePacket(p, 'messageId');
    const bytes = payloadBytes(p);
    return this.durable(() => {
      const insert = this.q('INSERT INTO outgoing (client_id, broker_id, broker_counter, message_id, bytes, meta, kind, payload) VALUES (?, ?, ?, NULL, ?, ?, ?, ?)');
      for (const s of subs) {
        insert.run(s.clientId, p.brokerId ?? null, p.brokerCounter ?? null, bytes, e.meta, e.kind, e.payload);
        this.queued.set(s.clientId, (this.queued.get(s.clientId) ?? 0) + 1);
      }
    });
  }

  async outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void> {
    this.write(() => {
      const messageId = packet.messageId ?? null;
      if (packet.brokerId !== undefined) {
        const r = this.q('UPDATE outgoing SET message_id = ? WHERE id = '
          + '(SELECT id FROM outgoing WHERE client_id = ? AND broker_id = ? AND broker_counter = ? ORDER BY id LIMIT 1)')
          .run(messageId, client.id, packet.brokerId, packet.brokerCounter ?? null);
        if (r.changes > 0) return;
      }
      // Another broker's packet, or a pubrel, with the same message id takes its place (as in
      // aedes-persistence's memory store).
      const e = encodePacket(packet, 'messageId');
      const r = this.q('UPDATE outgoing SET broker_id = ?, broker_counter = ?, message_id = ?, bytes = ?, meta = ?, kind = ?, payload = ? WHERE id = '
        + '(SELECT id FROM outgoing WHERE client_id = ? AND message_id IS ? AND broker_id IS NOT ? ORDER BY id LIMIT 1)')
        .run(packet.brokerId ?? null, packet.brokerCounter ?? null, messageId, payloadBytes(packet), e.meta, e.kind, e.payload,
          client.id, messageId, packet.brokerId ?? null);
      if (r.changes === 0) throw new Error('no such packet');
    });
  }

  async outgoingClearMessageId(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket | undefined> {
    const n = this.queued.get(client.id);
    if (!n) return undefined;
    const row = this.write(() => this.q('DELETE FROM outgoing WHERE id = '
      + '(SELECT id FROM outgoing WHERE client_id = ? AND message_id IS ? ORDER BY id LIMIT 1) RETURNING id, message_id, meta, kind, payload')
      .get(client.id, packet?.messageId ?? null) as OutgoingRow | undefined);
    if (!row) return undefined;
    if (n > 1) this.queued.set(client.id, n - 1);
    else this.queued.delete(client.id);
    return decodeOutgoing(row);
  }

  /** The session's queue as it is now, oldest first (messages queued later are not in it). */
  outgoingStream(client: ClientRef): Readable {
    if (!this.queued.get(client.id)) return Readable.from([]);
    const last = (this.q('SELECT max(id) AS m FROM outgoing WHERE client_id = ?').get(client.id) as { m: number | null }).m ?? 0;
    const self = this;
    return Readable.from((function* () {
      let after = 0;
      for (;;) {
        const rows = self.q('SELECT id, message_id, meta, kind, payload FROM outgoing WHERE client_id = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?')
          .all(client.id, after, last, PAGE) as OutgoingRow[];
        for (const r of rows) yield decodeOutgoing(r);
        if (rows.length < PAGE) return;
        after = rows.at(-1)!.id;
      }
    })());
  }

  // ---- QoS 2 packets received --------------------------------------------------------------------

  incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void> {
    const p = new Packet(packet);
    p.messageId = packet.messageId;
    const e = encodePacket(p);
    return this.durable(() => {
      this.q('INSERT INTO incoming (client_id, message_id, meta, kind, payload) VALUES (?, ?, ?, ?, ?) '
        + 'ON CONFLICT(client_id, message_id) DO UPDATE SET meta = excluded.meta, kind = excluded.kind, payload = excluded.payload')
        .run(client.id, packet.messageId ?? null, e.meta, e.kind, e.payload);
    });
  }

  async incomingGetPacket(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket> {
    const row = this.q('SELECT meta, kind, payload FROM incoming WHERE client_id = ? AND message_id = ?').get(client.id, packet.messageId ?? null) as PacketRow | undefined;
    if (!row) throw new Error('no such packet');
    return decodePacket<StoredPacket>(row.meta, row.kind, row.payload);
  }

  async incomingDelPacket(client: ClientRef, packet: { messageId?: number }): Promise<void> {
    const r = this.write(() => this.q('DELETE FROM incoming WHERE client_id = ? AND message_id = ?').run(client.id, packet.messageId ?? null));
    if (r.changes === 0) throw new Error('no such packet');
  }

  cleanIncoming(client: ClientRef): Promise<void> {
    return this.durable(() => { this.q('DELETE FROM incoming WHERE client_id = ?').run(client.id); });
  }

  // ---- wills -------------------------------------------------------------------------------------

  /** Tags the will with this broker's id and its client's, as aedes-persistence's stores do. */
  putWill(client: ClientRef, packet: StoredPacket): Promise<void> {
    packet.brokerId = this.brokerRef?.id;
    packet.clientId = client.id;
    const e = encodePacket(packet);
    return this.durable(() => {
      this.q('INSERT INTO wills (client_id, broker_id, meta, kind, payload) VALUES (?, ?, ?, ?, ?) '
        + 'ON CONFLICT(client_id) DO UPDATE SET broker_id = excluded.broker_id, meta = excluded.meta, kind = excluded.kind, payload = excluded.payload')
        .run(client.id, packet.brokerId ?? null, e.meta, e.kind, e.payload);
    });
  }

  async getWill(client: ClientRef): Promise<StoredPacket | undefined> {
    const row = this.q('SELECT meta, kind, payload FROM wills WHERE client_id = ?').get(client.id) as PacketRow | undefined;
    return row ? decodePacket<StoredPacket>(row.meta, row.kind, row.payload) : undefined;
  }

  /**
   * Deletes a client's will. With a `brokerId` (aedes, after publishing the will of a broker it thinks
   * dead), only a will that broker stored: one the client left since it came back stays.
   */
  delWill(client: ClientRef & { brokerId?: string }): Promise<StoredPacket | undefined> {
    return this.durable(() => {
      const row = (client.brokerId === undefined
        ? this.q('DELETE FROM wills WHERE client_id = ? RETURNING meta, kind, payload').get(client.id)
        : this.q('DELETE FROM wills WHERE client_id = ? AND broker_id IS ? RETURNING meta, kind, payload').get(client.id, client.brokerId)) as PacketRow | undefined;
      return row ? decodePacket<StoredPacket>(row.meta, row.kind, row.payload) : undefined;
    });
  }

  /** The wills stored by brokers not in `brokers` (aedes: those it thinks dead). */
  streamWill(brokers: Record<string, unknown> = {}): Readable {
    const rows = this.q('SELECT broker_id, meta, kind, payload FROM wills').all() as Array<PacketRow & { broker_id: string | null }>;
    return Readable.from(rows.filter((r) => !brokers[r.broker_id ?? '']).map((r) => decodePacket<StoredPacket>(r.meta, r.kind, r.payload)));
  }

  // ---- what the hub's bookkeeping learns again after a restart (SessionLedger) --------------------

  storedSessions(): StoredSession[] {
    const rows = this.q('SELECT client_id, last_seen, connected FROM sessions').all() as Array<{ client_id: string; last_seen: number; connected: number }>;
    const out = new Map<string, StoredSession>(rows.map((r) => [r.client_id, { clientId: r.client_id, lastSeen: r.last_seen, connected: r.connected === 1 }]));
    for (const id of [...this.subs.keys(), ...this.queued.keys()]) {
      if (!out.has(id)) out.set(id, { clientId: id, lastSeen: null, connected: false });
    }
    return [...out.values()];
  }

  storedQueues(): Array<{ clientId: string; messages: number; bytes: number }> {
    const rows = this.q('SELECT client_id, count(*) AS n, total(bytes) AS b FROM outgoing GROUP BY client_id').all() as Array<{ client_id: string; n: number; b: number }>;
    return rows.map((r) => ({ clientId: r.client_id, messages: r.n, bytes: r.b }));
  }

  sessionSeen(clientId: string, at: number, connected: boolean): void {
    this.write(() => this.q('INSERT INTO sessions (client_id, last_seen, connected) VALUES (?, ?, ?) '
      + 'ON CONFLICT(client_id) DO UPDATE SET last_seen = excluded.last_seen, connected = excluded.connected').run(clientId, at, connected ? 1 : 0));
  }

  forgetSession(clientId: string): void {
    this.write(() => this.q('DELETE FROM sessions WHERE client_id = ?').run(clientId));
  }

  /** Commits what is pending and closes the file. */
  async destroy(): Promise<void> {
    if (this.destroyed) throw new Error('destroyed called twice!');
    this.commit();
    this.destroyed = true;
    this.db.close();
  }
}

function decodeOutgoing(row: OutgoingRow): StoredPacket {
  const p = decodePacket<StoredPacket>(row.meta, row.kind, row.payload);
  p.messageId = row.message_id ?? undefined;
  return p;
}
