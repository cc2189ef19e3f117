import type { Statement } from 'better-sqlite3';
import { type Db, statementCache } from './db.js';

export interface AuditEntry {
  ts: number;
  userId: string | null;
  actor: string;
  deviceSerial: string | null;
  action: string;
  detail: unknown;
}

export class AuditLog {
  private readonly q: (sql: string) => Statement;

  constructor(private readonly db: Db) {
    this.q = statementCache(db);
  }

  add(e: Omit<AuditEntry, 'ts'> & { ts?: number }): void {
    this.q('INSERT INTO audit_log (ts, user_id, actor, device_serial, action, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(e.ts ?? Date.now(), e.userId, e.actor, e.deviceSerial, e.action, JSON.stringify(e.detail ?? null));
  }

  /** Several entries in one transaction: the broker batches per-message entries (see AuditWriter). */
  addMany(entries: AuditEntry[]): void {
    const stmt = this.q('INSERT INTO audit_log (ts, user_id, actor, device_serial, action, detail) VALUES (?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const e of entries) stmt.run(e.ts, e.userId, e.actor, e.deviceSerial, e.action, JSON.stringify(e.detail ?? null));
    })();
  }

  list(filter: { deviceSerial?: string; userId?: string; action?: string; limit?: number } = {}): AuditEntry[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.deviceSerial !== undefined) { where.push('device_serial = ?'); args.push(filter.deviceSerial); }
    if (filter.userId !== undefined) { where.push('user_id = ?'); args.push(filter.userId); }
    if (filter.action !== undefined) { where.push('action = ?'); args.push(filter.action); }
    const sql = `SELECT * FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    args.push(filter.limit ?? 100);
    return (this.q(sql).all(...args) as Array<{ ts: number; user_id: number | null; actor: string; device_serial: string | null; action: string; detail: string }>)
      .map((r) => ({ ts: r.ts, userId: r.user_id === null ? null : String(r.user_id), actor: r.actor, deviceSerial: r.device_serial, action: r.action, detail: JSON.parse(r.detail) }));
  }
}
