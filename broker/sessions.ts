// Live MQTT sessions by certificate, so that a revocation — by this process or by the CLI working on
// the same database — cuts them within a second, and a certificate's expiry ends its session.
import type { Logger } from '../shared/log.js';
import type { Store } from './store/store.js';

export interface Closable { close(): void }

const MAX_TIMER = 2 ** 31 - 1;

export class SessionRegistry {
  private readonly byCert = new Map<string, Set<Closable>>();
  private readonly timers = new Map<Closable, NodeJS.Timeout>();
  private poll: NodeJS.Timeout | null = null;
  private lastVersion = -1;
  private lastRevocations = 0;

  constructor(private readonly store: Store, private readonly log: Logger, private readonly pollMs = 200) {}

  start(): void {
    this.lastVersion = this.store.dataVersion();
    this.lastRevocations = this.store.revocations;
    this.poll = setInterval(() => this.checkStore(), this.pollMs);
    this.poll.unref();
  }

  stop(): void {
    if (this.poll) clearInterval(this.poll);
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

  /**
   * Looks for revocations only when there may be new ones: PRAGMA data_version changes when another
   * connection (the CLI) commits, and the store counts this process's own (the API's).
   */
  checkStore(): void {
    let version: number;
    try {
      version = this.store.dataVersion();
    } catch (err) {
      this.log.error('cannot read the database', { error: (err as Error).message });
      return;
    }
    const revocations = this.store.revocations;
    if (version === this.lastVersion && revocations === this.lastRevocations) return;
    this.lastVersion = version;
    this.lastRevocations = revocations;
    if (this.byCert.size === 0) return;
    const revoked = new Set(this.store.certs.revokedSerials());
    this.cut([...this.byCert.keys()].filter((s) => revoked.has(s)), 'revoked');
  }
}
