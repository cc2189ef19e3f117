// Live MQTT sessions by certificate, so that a revocation — by this process, by the CLI working on
// the same database, or by another hub node — cuts them within a second (hub.ts calls cutRevoked on
// the store's revocation feed), and a certificate's expiry ends its session.
import type { Logger } from '../../shared/log.js';
import type { CertStore } from '../store/store.js';

export interface Closable { close(): void }

const MAX_TIMER = 2 ** 31 - 1;

export class SessionRegistry {
  private readonly byCert = new Map<string, Set<Closable>>();
  private readonly timers = new Map<Closable, NodeJS.Timeout>();

  constructor(private readonly certs: CertStore, private readonly log: Logger) {}

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.byCert.clear();
  }

  add(certSerial: string, notAfter: number | null, session: Closable): void {
    let set = this.byCert.get(certSerial);
    if (!set) this.byCert.set(certSerial, (set = new Set()));
    set.add(session);
    if (notAfter !== null) {
      const t = setTimeout(() => {
        this.log.info('certificate expired, closing its session', { cert: certSerial });
        session.close();
      }, Math.min(Math.max(notAfter - Date.now(), 0), MAX_TIMER));
      t.unref();
      this.timers.set(session, t);
    }
  }

  remove(certSerial: string, session: Closable): void {
    const set = this.byCert.get(certSerial);
    set?.delete(session);
    if (set?.size === 0) this.byCert.delete(certSerial);
    const t = this.timers.get(session);
    if (t) clearTimeout(t);
    this.timers.delete(session);
  }

  /** Closes every live session of these certificates. */
  cut(certSerials: Iterable<string>, reason: string): number {
    let n = 0;
    for (const serial of certSerials) {
      const set = this.byCert.get(serial);
      if (!set) continue;
      for (const s of [...set]) {
        this.log.info('closing session', { cert: serial, reason });
        s.close();
        n++;
      }
    }
    return n;
  }

  /** Closes the live sessions of certificates revoked since (the revocation feed says when to look). */
  cutRevoked(): void {
    if (this.byCert.size === 0) return;
    let revoked: Set<string>;
    try {
      revoked = new Set(this.certs.revokedSerials());
    } catch (err) {
      this.log.error('cannot read the revocations', { error: (err as Error).message });
      return;
    }
    this.cut([...this.byCert.keys()].filter((s) => revoked.has(s)), 'revoked');
  }
}
