// The persistent (clean=false) MQTT sessions the broker holds, and whose they are: a user may hold at
// most `maxPerUser` (a device has exactly one, its serial), and a session nobody resumed for
// `expiryMs` is dropped with what it queued. Pure bookkeeping over internal client ids; the broker
// feeds it aedes's connect and disconnect events and drops what `expired()` returns. After a restart it
// starts from the sessions the store kept (`restore`), so the quota and the expiry still hold.
import { type Principal, principalFromClientId } from './mountpoint.js';

export interface SessionLimits {
  maxPerUser: number;
  expiryMs: number;
}

interface Entry { userId: string; counted: boolean; connections: number; lastSeen: number }

export class PersistentSessions {
  private readonly sessions = new Map<string, Entry>();
  private readonly perUser = new Map<string, number>();

  constructor(private readonly limits: SessionLimits) {}

  /** Why this principal may not open the persistent session `clientId`, or null when it may. */
  refusal(p: Principal, clientId: string): string | null {
    if (p.kind === 'device' || this.sessions.has(clientId)) return null;
    const held = this.perUser.get(p.userId) ?? 0;
    if (held < this.limits.maxPerUser) return null;
    return `too many persistent sessions: this user holds ${held} (at most ${this.limits.maxPerUser}); `
      + 'reuse a client id, connect with a clean session, or wait for an unused one to expire';
  }

  /**
   * The sessions a store kept from before a restart. None is connected now; one that was when the hub
   * stopped (or died) counts as used at `now`, one only known by what it holds as well.
   */
  restore(sessions: ReadonlyArray<{ clientId: string; lastSeen: number | null; connected: boolean }>, now = Date.now()): void {
    for (const s of sessions) {
      if (this.sessions.has(s.clientId)) continue;
      const p = principalFromClientId(s.clientId);
      if (!p) continue;
      const e: Entry = { userId: p.userId, counted: p.kind === 'user', connections: 0, lastSeen: s.connected || s.lastSeen === null ? now : Math.min(s.lastSeen, now) };
      this.sessions.set(s.clientId, e);
      if (e.counted) this.perUser.set(e.userId, (this.perUser.get(e.userId) ?? 0) + 1);
    }
  }

  /** Connections holding a session now (0 for one unknown or away). */
  connections(clientId: string): number {
    return this.sessions.get(clientId)?.connections ?? 0;
  }

  /** Whether this is a persistent session the book holds. */
  has(clientId: string): boolean {
    return this.sessions.has(clientId);
  }

  /** A client connected; a clean one ends whatever persistent session its id had. */
  connected(clientId: string, clean: boolean, now = Date.now()): void {
    if (clean) { this.forget(clientId); return; }
    let e = this.sessions.get(clientId);
    if (!e) {
      const p = principalFromClientId(clientId);
      if (!p) return;
      e = { userId: p.userId, counted: p.kind === 'user', connections: 0, lastSeen: now };
      this.sessions.set(clientId, e);
      if (e.counted) this.perUser.set(e.userId, (this.perUser.get(e.userId) ?? 0) + 1);
    }
    e.connections++;
    e.lastSeen = now;
  }

  disconnected(clientId: string, now = Date.now()): void {
    const e = this.sessions.get(clientId);
    if (!e) return;
    e.connections = Math.max(0, e.connections - 1);
    e.lastSeen = now;
  }

  /** Sessions unused for longer than the expiry, now forgotten: the caller drops them from the store. */
  expired(now = Date.now()): string[] {
    const out: string[] = [];
    for (const [id, e] of this.sessions) {
      if (e.connections === 0 && now - e.lastSeen >= this.limits.expiryMs) out.push(id);
    }
    for (const id of out) this.forget(id);
    return out;
  }

  forget(clientId: string): void {
    const e = this.sessions.get(clientId);
    if (!e) return;
    this.sessions.delete(clientId);
    if (!e.counted) return;
    const n = (this.perUser.get(e.userId) ?? 1) - 1;
    if (n > 0) this.perUser.set(e.userId, n);
    else this.perUser.delete(e.userId);
  }

  /** Persistent sessions a user holds (devices' not counted). */
  heldBy(userId: string): number {
    return this.perUser.get(userId) ?? 0;
  }
}
