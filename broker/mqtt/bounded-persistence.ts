// The hub's bounds on what one MQTT session may make the broker store, around any Aedes persistence:
//
// - a SUBSCRIBE's subscriptions are stored once, and only those the ACL granted. aedes 1.2 calls
//   addSubscriptions(client, packet.subscriptions) once per filter with the whole list, refused ones
//   included: n² work per packet (4,000 filters held the event loop for 9.5 s) and refused filters kept.
// - each session's queue of QoS 1 messages is bounded in count and bytes; a message beyond the bound
//   is dropped for that session and reported (the broker answers a dropped request).
// - a session can be dropped whole (expiry): its subscriptions, queue, will and QoS 2 state.
// - over a store that outlives the process (its `ledger`), the queues it holds are counted at setup, so
//   the bound holds across a restart; and a QoS 1 message is stored before aedes acknowledges it
//   (`storeBeforeAck`): aedes 1.2 writes PUBACK first and stores after, so a crash between the two
//   would lose a message its sender was told is safe.
// - with several hub nodes on one store, the queues are counted in that store (`shared`): a message is
//   queued on the publisher's node and acknowledged on the subscriber's.
import { payloadBytes } from './packet-codec.js';
import { type AsyncPersistence, type ClientRef, type SessionLedger, type StoredPacket, type StoredSubscription, aedesPacket } from './persistence.js';

export interface QueueBounds {
  /** Messages queued for one session, sent or not yet acknowledged. */
  maxMessages: number;
  /** Their payload bytes in all. */
  maxBytes: number;
}

export type DropReason = 'queue-full' | 'expired';

/** Queue counts kept where every hub node sees them (broker/cluster), instead of in this process. */
export interface SharedQueueCounts {
  /** Counts one message of `bytes` for the session, unless that would pass a bound: then false. */
  admit(clientId: string, bytes: number, bounds: QueueBounds): Promise<boolean>;
  /** One message of `bytes` left the session's queue. */
  release(clientId: string, bytes: number): void;
  /** The session's queue is empty. */
  reset(clientId: string): Promise<void>;
}

export interface BoundedPersistenceOptions extends QueueBounds {
  /** Whether the ACL granted this subscription object (the broker marks them as it decides). */
  granted: (sub: StoredSubscription) => boolean;
  /** A message a session will not get: over its bound, or left in it when it expired. */
  onDrop: (clientId: string, packet: StoredPacket, reason: DropReason) => void;
  /** Where the queues are counted when several hub nodes share the store (default: here). */
  shared?: SharedQueueCounts;
}

interface Queue { messages: number; bytes: number }

/** Messages stored ahead of aedes, remembered until aedes stores them too (then skipped); a bound on a leak. */
const MAX_STORED_AHEAD = 10_000;
const aheadKey = (p: { brokerId?: unknown; brokerCounter?: unknown }) => `${String(p.brokerId)}\0${String(p.brokerCounter)}`;

/** A subscription as stored for a session: the same object stored again with other options is a change. */
const storedAs = (client: ClientRef, s: StoredSubscription) => `${client.id}\0${s.qos}\0${s.rh}\0${s.rap}\0${s.nl}`;

export class BoundedPersistence implements AsyncPersistence {
  private readonly queues = new Map<string, Queue>();
  /** Subscription objects already stored: for which session, with which options. */
  private readonly stored = new WeakMap<StoredSubscription, string>();
  /** brokerId and brokerCounter of messages queued / retained by storeBeforeAck, which aedes will store again. */
  private readonly queuedAhead = new Set<string>();
  private readonly retainedAhead = new Set<string>();

  constructor(private readonly inner: AsyncPersistence, private readonly o: BoundedPersistenceOptions) {}

  /** The broker the store was set up with (aedes-persistence's tests read it). */
  get broker(): unknown { return (this.inner as { broker?: unknown }).broker; }

  /** What the store kept of each session, when it outlives the process. */
  get ledger(): SessionLedger | undefined { return this.inner.ledger; }

  /** aedes requires setup to be an async function (it checks the constructor's name). */
  async setup(broker: unknown): Promise<void> {
    await this.inner.setup(broker);
    this.queues.clear();
    for (const q of this.inner.ledger?.storedQueues() ?? []) this.queues.set(q.clientId, { messages: q.messages, bytes: q.bytes });
  }

  // ---- subscriptions ----------------------------------------------------------------------------

  addSubscriptions(client: ClientRef, subs: StoredSubscription[]): Promise<void> {
    const fresh = subs.filter((s) => this.o.granted(s) && this.stored.get(s) !== storedAs(client, s));
    if (fresh.length === 0) return Promise.resolve();
    for (const s of fresh) this.stored.set(s, storedAs(client, s));
    return this.inner.addSubscriptions(client, fresh);
  }

  removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> { return this.inner.removeSubscriptions(client, topics); }
  subscriptionsByClient(client: ClientRef): Promise<StoredSubscription[]> { return this.inner.subscriptionsByClient(client); }
  subscriptionsByTopic(topic: string) { return this.inner.subscriptionsByTopic(topic); }
  countOffline() { return this.inner.countOffline(); }

  async cleanSubscriptions(client: ClientRef): Promise<void> {
    this.queues.delete(client.id); // a clean session starts with an empty queue: what is left is cleared next
    await this.o.shared?.reset(client.id);
    await this.inner.cleanSubscriptions(client);
  }

  // ---- the outgoing queue -----------------------------------------------------------------------

  outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    if (this.o.shared) return this.enqueueShared(this.o.shared, [sub], packet);
    return this.admit(sub.clientId, packet) ? this.inner.outgoingEnqueue(sub, packet) : Promise.resolve();
  }

  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void> {
    if (this.queuedAhead.size > 0 && this.queuedAhead.delete(aheadKey(packet))) return Promise.resolve(); // stored before the PUBACK
    if (this.o.shared) return this.enqueueShared(this.o.shared, subs, packet);
    const kept = subs.filter((s) => this.admit(s.clientId, packet));
    return kept.length === 0 ? Promise.resolve() : this.inner.outgoingEnqueueCombi(kept, packet);
  }

  private admit(clientId: string, packet: StoredPacket): boolean {
    const bytes = payloadBytes(packet);
    let q = this.queues.get(clientId);
    if (!q) this.queues.set(clientId, (q = { messages: 0, bytes: 0 }));
    if (q.messages >= this.o.maxMessages || q.bytes + bytes > this.o.maxBytes) {
      this.o.onDrop(clientId, packet, 'queue-full');
      return false;
    }
    q.messages++;
    q.bytes += bytes;
    return true;
  }

  private async enqueueShared(shared: SharedQueueCounts, subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void> {
    const bytes = payloadBytes(packet);
    const admitted = await Promise.all(subs.map((s) => shared.admit(s.clientId, bytes, this.o)));
    const kept = subs.filter((s, i) => admitted[i] || (this.o.onDrop(s.clientId, packet, 'queue-full'), false));
    if (kept.length > 0) await this.inner.outgoingEnqueueCombi(kept, packet);
  }

  outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void> { return this.inner.outgoingUpdate(client, packet); }

  outgoingClearMessageId(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket | undefined> {
    // aedes calls this for every PUBACK, clean sessions included: only a session with a queue pays more.
    const { shared } = this.o;
    if (shared) {
      return this.inner.outgoingClearMessageId(client, packet).then((removed) => {
        if (removed) shared.release(client.id, payloadBytes(removed));
        return removed;
      });
    }
    if (!this.queues.has(client.id)) return this.inner.outgoingClearMessageId(client, packet);
    return this.inner.outgoingClearMessageId(client, packet).then((removed) => this.cleared(client.id, removed));
  }

  private cleared(clientId: string, removed: StoredPacket | undefined): StoredPacket | undefined {
    const q = this.queues.get(clientId);
    if (removed && q) {
      q.messages = Math.max(0, q.messages - 1);
      q.bytes = Math.max(0, q.bytes - payloadBytes(removed));
      if (q.messages === 0) this.queues.delete(clientId);
    }
    return removed;
  }

  outgoingStream(client: ClientRef) { return this.inner.outgoingStream(client); }

  /** How much is queued for a session (for tests and logs). */
  queued(clientId: string): Queue {
    return { ...(this.queues.get(clientId) ?? { messages: 0, bytes: 0 }) };
  }

  /**
   * Forgets a session that will not come back: its subscriptions (no more is queued for it), then
   * every queued message, each reported, then its will and QoS 2 state. Uses only the persistence
   * interface, so it works the same over any store.
   */
  async dropSession(clientId: string): Promise<number> {
    const ref = { id: clientId };
    await this.inner.cleanSubscriptions(ref);
    const left: StoredPacket[] = [];
    for await (const p of this.inner.outgoingStream(ref)) left.push(p as StoredPacket);
    for (const p of left) {
      // Clearing by message id removes the first entry with that id; queued-offline ones have none.
      await this.inner.outgoingClearMessageId(ref, { messageId: p.messageId });
      this.o.onDrop(clientId, p, 'expired');
    }
    this.queues.delete(clientId);
    await this.o.shared?.reset(clientId);
    await this.inner.delWill(ref);
    await this.inner.cleanIncoming(ref);
    this.inner.ledger?.forgetSession(clientId);
    return left.length;
  }

  // ---- the rest, unchanged ----------------------------------------------------------------------

  storeRetained(packet: StoredPacket): Promise<void> {
    if (this.retainedAhead.size > 0 && this.retainedAhead.delete(aheadKey(packet))) return Promise.resolve();
    return this.inner.storeRetained(packet);
  }

  /** Whether the store outlives the process, so that storing before acknowledging matters. */
  get durable(): boolean { return this.inner.ledger !== undefined; }

  /**
   * Stores a client's QoS 1 message now, as aedes would after its PUBACK: queued for every persistent
   * session it is for, and retained if it is. The packet must carry the brokerId and brokerCounter aedes
   * will keep (aedes-packet keeps given ones): aedes's own enqueue and retain of it are then skipped.
   */
  async storeBeforeAck(packet: StoredPacket): Promise<void> {
    const p = aedesPacket(packet);
    const key = aheadKey(p);
    const subs = await this.inner.subscriptionsByTopic(p.topic);
    const writes: Array<Promise<void>> = [];
    if (p.retain) {
      writes.push(this.inner.storeRetained(p));
      remember(this.retainedAhead, key);
    }
    if (subs.length > 0) {
      writes.push(this.outgoingEnqueueCombi(subs, p));
      remember(this.queuedAhead, key);
    }
    await Promise.all(writes);
  }
  createRetainedStream(pattern: string) { return this.inner.createRetainedStream(pattern); }
  createRetainedStreamCombi(patterns: string[]) { return this.inner.createRetainedStreamCombi(patterns); }
  incomingStorePacket(client: ClientRef, packet: StoredPacket) { return this.inner.incomingStorePacket(client, packet); }
  incomingGetPacket(client: ClientRef, packet: { messageId?: number }) { return this.inner.incomingGetPacket(client, packet); }
  incomingDelPacket(client: ClientRef, packet: { messageId?: number }) { return this.inner.incomingDelPacket(client, packet); }
  cleanIncoming(client: ClientRef) { return this.inner.cleanIncoming(client); }
  putWill(client: ClientRef, packet: StoredPacket) { return this.inner.putWill(client, packet); }
  getWill(client: ClientRef) { return this.inner.getWill(client); }
  delWill(client: ClientRef) { return this.inner.delWill(client); }
  streamWill(brokers?: Record<string, unknown>) { return this.inner.streamWill(brokers); }
  getClientList(topic: string) { return this.inner.getClientList(topic); }
  destroy() { return this.inner.destroy(); }
}

function remember(set: Set<string>, key: string): void {
  set.add(key);
  if (set.size > MAX_STORED_AHEAD) set.delete(set.values().next().value!); // aedes never stored that one (its PUBACK failed)
}
