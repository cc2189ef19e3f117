// The hub's data: one SQLite file in the data directory, reached through one repository per table.
import { ApiKeys } from './api-keys.js';
import { AuditLog } from './audit.js';
import { Certs } from './certs.js';
import { type Db, dataVersion, openDb } from './db.js';
import { Devices } from './devices.js';
import { Users } from './users.js';

export class Store {
  readonly users: Users;
  readonly apiKeys: ApiKeys;
  readonly certs: Certs;
  readonly devices: Devices;
  readonly audit: AuditLog;
  /**
   * Counts revocations committed through this Store. PRAGMA data_version only tells of other
   * connections' commits, so this is how the session registry learns of this process's own.
   */
  revocations = 0;

  constructor(readonly db: Db) {
    const revoked = () => { this.revocations++; };
    this.users = new Users(db);
    this.apiKeys = new ApiKeys(db, revoked);
    this.certs = new Certs(db, revoked);
    this.devices = new Devices(db);
    this.audit = new AuditLog(db);
  }

  static open(file: string): Store {
    return new Store(openDb(file));
  }

  getSetting(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  setSetting(key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** See db.ts: changes when another process commits. */
  dataVersion(): number {
    return dataVersion(this.db);
  }

  close(): void {
    this.db.close();
  }
}
