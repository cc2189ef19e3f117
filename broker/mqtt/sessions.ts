// Live MQTT connections by the credential they came in with — a certificate or a dashboard session —
// so that a revocation or a logout, by this process, by the CLI working on the same database, or by
// another hub node, cuts them within a second (hub.ts calls cutRevoked on the store's revocation
// feed), and a credential's expiry ends its connections.
import type { Logger } from '../../shared/log.js';
import type { CertStore, SessionStore } from '../store/store.js';
import type { Identity } from './identity.js';

export interface Closable { close(): void }

const MAX_TIMER = 2 ** 31 - 1;
const CERT = 'cert:';
const SESSION = 'session:';

/** The credential an identity came with, as the registry keys it; null for none. */
export function credentialOf(id: Identity): string | null {
  if (id.certSerial) return CERT + id.certSerial;
  if (id.sessionId) return SESSION + id.sessionId;
  return null;
}

export class SessionRegistry {
  private readonly live = new Map<string, Set<Closable>>();
  private readonly timers = new Map<Closable, NodeJS.Timeout>();

  constructor(private readonly store: { certs: CertStore; sessions: SessionStore }, private readonly log: Logger) {}

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.live.clear();
  }

  add(credential: string, notAfter: number | null, connection: Closable): void {
    let set = this.live.get(credential);
    if (!set) this.live.set(credential, (set = new Set()));
    set.add(connection);
    if (notAfter !== null) this.closeAt(credential, notAfter, connection);
  }

  /** Closes the connection when its credential expires. A timer waits ~24.8 days at most: until then, it waits again. */
  private closeAt(credential: string, notAfter: number, connection: Closable): void {
    const t = setTimeout(() => {
      if (Date.now() < notAfter) return this.closeAt(credential, notAfter, connection);
      this.log.info('credential expired, closing its connection', { credential });
      connection.close();
    }, Math.min(Math.max(notAfter - Date.now(), 0), MAX_TIMER));
    t.unref();
    this.timers.set(connection, t);
  }

  remove(credential: string, connection: Closable): void {
    const set = this.live.get(credential);
    set?.delete(connection);
    if (set?.size === 0) this.live.delete(credential);
    const t = this.timers.get(connection);
    if (t) clearTimeout(t);
    this.timers.delete(connection);
  }

  /** Closes every live connection of these certificates (hex serials). */
  cutCertificates(serials: Iterable<string>, reason: string): number {
    return this.cut([...serials].map((s) => CERT + s), reason);
  }

  /** Closes every live connection of these dashboard sessions. */
  cutSessions(ids: Iterable<string>, reason: string): number {
    return this.cut([...ids].map((s) => SESSION + s), reason);
  }

  private cut(credentials: string[], reason: string): number {
    let n = 0;
    for (const credential of credentials) {
      const set = this.live.get(credential);
      if (!set) continue;
      for (const c of [...set]) {
        this.log.info('closing connection', { credential, reason });
        c.close();
        n++;
      }
    }
    return n;
  }

  /** Closes the connections of certificates revoked and sessions ended since (the feed says when to look). */
  cutRevoked(): void {
    if (this.live.size === 0) return;
    const keys = [...this.live.keys()];
    try {
      const revoked = new Set(this.store.certs.revokedSerials());
      this.cutCertificates(keys.filter((k) => k.startsWith(CERT) && revoked.has(k.slice(CERT.length))).map((k) => k.slice(CERT.length)), 'revoked');
      const sessions = keys.filter((k) => k.startsWith(SESSION)).map((k) => k.slice(SESSION.length));
      if (sessions.length > 0) this.cutSessions(this.store.sessions.endedAmong(sessions), 'session ended');
    } catch (err) {
      this.log.error('cannot read the revocations', { error: (err as Error).message });
    }
  }
}
