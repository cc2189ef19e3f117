// The hub's data in one SQLite file (better-sqlite3, WAL), a repository per table. The CLI (and, with
// --cluster, other hub nodes) open the same file while the hub runs, so revocations reach a live hub
// through PRAGMA data_version (another connection's commit) and a counter of this process's own; a
// revocation also counts itself in `settings`, so a commit of anything else (another node's device
// reports, every second) is told from one.
import { ApiKeys } from './api-keys.js';
import { AuditLog } from './audit.js';
import { Certs } from './certs.js';
import { type Db, dataVersion, openDb } from './db.js';
import { Devices } from './devices.js';
import { History } from './history.js';
import { Sessions } from './sessions.js';
import type { HubStore, RevocationFeed } from './store.js';
import { Users } from './users.js';

/** settings key: how many revocations were made on this database (by any process). */
const REVOCATIONS = 'revocations';

export class SqliteStore implements HubStore {
  readonly users: Users;
  readonly apiKeys: ApiKeys;
  readonly certs: Certs;
  readonly devices: Devices;
  readonly audit: AuditLog;
  readonly sessions: Sessions;
  readonly history: History;
  /** Revocations committed through this store: data_version only changes for other connections' commits. */
  private revocations = 0;

  constructor(private readonly db: Db) {
    const revoked = () => {
      this.revocations++;
      db.prepare(`INSERT INTO settings (key, value) VALUES ('${REVOCATIONS}', '1')
        ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`).run();
    };
    this.users = new Users(db);
    this.apiKeys = new ApiKeys(db, revoked);
    this.certs = new Certs(db, revoked);
    this.devices = new Devices(db);
    this.audit = new AuditLog(db);
    this.sessions = new Sessions(db, revoked); // an ended session is cut like a revoked certificate
    this.history = new History(db);
  }

  static open(file: string): SqliteStore {
    return new SqliteStore(openDb(file));
  }

  getSetting(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  setSetting(key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  revocationFeed(pollMs = 200): RevocationFeed {
    let timer: NodeJS.Timeout | null = null;
    return {
      start: (onChange) => {
        let version = dataVersion(this.db);
        let own = this.revocations;
        let count = this.getSetting(REVOCATIONS);
        timer = setInterval(() => {
          let v: number;
          let c: string | null;
          try {
            v = dataVersion(this.db);
            if (v === version && this.revocations === own) return;
            c = this.getSetting(REVOCATIONS);
          } catch {
            onChange(); // cannot tell: let the caller look (and report what fails)
            return;
          }
          version = v;
          own = this.revocations;
          if (c === count) return; // a commit, but no revocation
          count = c;
          onChange();
        }, pollMs);
        timer.unref();
      },
      stop: () => { if (timer) clearInterval(timer); timer = null; },
    };
  }

  close(): void {
    this.db.close();
  }
}
