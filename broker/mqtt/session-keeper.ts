// The sessions the hub itself ends or forgets: a session cut for its certificate (revoked, replaced,
// expired) loses its will and, for a device, is marked offline by the hub; a persistent session nobody
// resumes within the expiry is dropped with what it queued; a queued request that will never be
// delivered is answered. It also books persistent sessions per user (persistent-sessions.ts), and tells a
// store that outlives the process (its ledger) when each was used, so the book starts from it again
// after a restart.
import type { Aedes } from 'aedes';
import { parseJson } from '../../shared/json.js';
import type { Logger } from '../../shared/log.js';
import { requestIdOf } from '../../shared/results.js';
import { parseDeviceTopic } from '../../shared/topics.js';
import type { AuditWriter } from '../audit-writer.js';
import type { DeviceTracker } from '../device-tracker.js';
import type { BoundedPersistence, DropReason, QueueBounds } from './bounded-persistence.js';
import { type HubClient, STATE } from './client-state.js';
import type { SessionHolders } from './holders.js';
import type { HubVoice } from './hub-voice.js';
import { type Principal, splitInternal } from './mountpoint.js';
import type { StoredPacket } from './persistence.js';
import { PersistentSessions, type SessionLimits } from './persistent-sessions.js';

export interface BrokerLimits {
  queue: QueueBounds;
  sessions: SessionLimits;
}

export interface SessionKeeperDeps {
  limits: BrokerLimits;
  tracker: DeviceTracker;
  audit: AuditWriter;
  log: Logger;
  voice: HubVoice;
  /** With several hub nodes: who holds each device's session (holders.ts). */
  holders?: SessionHolders;
}

export class SessionKeeper {
  private readonly book: PersistentSessions;
  private persistence: BoundedPersistence | null = null;
  /** aedes's id for this node: where a shared store keeps this node's wills. */
  private brokerId = '';
  private sweep: NodeJS.Timeout | null = null;

  constructor(private readonly d: SessionKeeperDeps) {
    this.book = new PersistentSessions(d.limits.sessions);
  }

  /** Learns the sessions the store kept, follows aedes's connections and sweeps expired sessions until stop(). */
  start(aedes: Aedes, persistence: BoundedPersistence): void {
    this.persistence = persistence;
    this.brokerId = aedes.id;
    // With several hub nodes, a session that another node took over is that node's to count and expire:
    // this one forgets it, or it would expire (and drop) a session in use elsewhere. aedes announces
    // every connection to every node (it closes its own duplicate on the same message).
    aedes.subscribe('$SYS/+/new/clients', (packet, cb) => {
      if (packet.topic.split('/')[1] !== aedes.id) this.book.forget(packet.payload.toString());
      cb();
    }, () => {});
    const ledger = persistence.ledger;
    if (ledger) this.book.restore(ledger.storedSessions());
    aedes.on('client', (c) => {
      this.book.connected(c.id, c.clean);
      this.record(c.id, c.clean);
    });
    aedes.on('clientDisconnect', (c) => {
      this.book.disconnected(c.id);
      this.record(c.id, false);
    });
    const every = Math.min(60_000, Math.max(1_000, this.d.limits.sessions.expiryMs / 2));
    this.sweep = setInterval(() => void this.expire(), every);
    this.sweep.unref();
  }

  stop(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
  }

  /** Tells the store's ledger that a session was used now, or ended (a clean connect). */
  private record(clientId: string, clean: boolean): void {
    const ledger = this.persistence?.ledger;
    if (!ledger) return;
    try {
      if (clean) ledger.forgetSession(clientId);
      else if (this.book.has(clientId)) ledger.sessionSeen(clientId, Date.now(), this.book.connections(clientId) > 0);
    } catch (err) {
      this.d.log.error('cannot record a persistent session', { client: clientId, error: (err as Error).message });
    }
  }

  /** Why this principal may not open the persistent session `clientId`, or null. */
  refusal(p: Principal, clientId: string): string | null {
    return this.book.refusal(p, clientId);
  }

  /**
   * Ends a session for the hub's own reasons. Its will is dropped — a revoked client's last word is
   * not published — and a device is marked offline by the hub instead.
   */
  end(client: HubClient): void {
    const st = client[STATE];
    client.will = null;
    client._will = null;
    const stored = { id: client.id, brokerId: this.brokerId }; // a shared store keys wills by node too
    void this.persistence?.delWill(stored).catch(() => {});
    const id = st?.identity;
    // A removed Pi gets no retained status: its retained messages are deleted (retained-sweep.ts).
    if (id?.kind === 'device' && this.d.tracker.enrolled(id.userId, id.serial)) this.offline(client.id, st!, id);
    client.close();
  }

  /** The hub says a device it cut off is offline, unless a newer connection holds its session (holders.ts). */
  private offline(clientId: string, st: NonNullable<HubClient[typeof STATE]>, id: Principal & { kind: 'device' }): void {
    const say = () => {
      const status = this.d.voice.offline(id.userId, id.serial);
      this.d.tracker.status(st.device ?? this.d.tracker.device(id.userId, id.serial), status);
    };
    const { holders } = this.d;
    if (!holders || !st.holding) return say();
    const mine = st.holding;
    holders.holder(clientId).then((holder) => {
      if (holder === null || holder === mine) say();
      else this.d.log.info('not marked offline: a newer connection holds the session', { client: clientId });
    }, () => say());
  }

  /** A message a session will not get: a request in it is answered, so nobody waits forever. */
  dropped(clientId: string, packet: StoredPacket, reason: DropReason): void {
    this.d.log.debug('queued message dropped', { client: clientId, reason });
    const where = splitInternal(packet.topic);
    const t = where ? parseDeviceTopic(where.inner) : null;
    if (!where || t?.kind !== 'cmd-req') return;
    const id = requestIdOf(parseJson(packet.payload));
    if (!id) return;
    const { queue, sessions } = this.d.limits;
    const why = reason === 'expired'
      ? `the Pi ${t.serial} did not connect for ${duration(sessions.expiryMs)}; its session at the hub expired`
      : `the hub already holds ${queue.maxMessages} messages (or ${queue.maxBytes >> 20} MiB) for the Pi ${t.serial}, which is offline or slow`;
    this.d.voice.answer(where.userId, t.serial, id, 'undeliverable', `not delivered: ${why}`);
    this.d.audit.add({ userId: where.userId, actor: 'hub', deviceSerial: t.serial, action: 'cmd.undeliverable', detail: { id, reason } });
  }

  /** Drops persistent sessions nobody resumed within the expiry, with what they queued. */
  async expire(now = Date.now()): Promise<void> {
    for (const clientId of this.book.expired(now)) {
      try {
        const n = await this.persistence!.dropSession(clientId);
        this.d.log.info('persistent session expired', { client: clientId, dropped: n });
      } catch (err) {
        this.d.log.error('cannot drop an expired session', { client: clientId, error: (err as Error).message });
      }
    }
  }
}

/** 30 days, 5 hours, 2 s: how long a bound is, for a message. */
function duration(ms: number): string {
  if (ms >= 86_400_000) return `${+(ms / 86_400_000).toFixed(1)} days`;
  if (ms >= 3_600_000) return `${+(ms / 3_600_000).toFixed(1)} hours`;
  return `${Math.round(ms / 1000)} s`;
}
