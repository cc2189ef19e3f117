import type { Statement } from 'better-sqlite3';
import { MAX_AUDIT_DETAIL_CHARS } from '../../shared/limits.js';
import { type Db, statementCache } from './db.js';
import type { AuditEntry, AuditStore } from './store.js';

/**
 * An entry's detail as stored: its JSON, or — when that is longer than the limit — its start and its
 * size, so a client cannot grow the database by the size of whatever it sends.
 */
export function encodeDetail(detail: unknown): string {
  const json = JSON.stringify(detail ?? null);
  if (json.length <= MAX_AUDIT_DETAIL_CHARS) return json;
  return JSON.stringify({ truncated: true, chars: json.length, head: json.slice(0, MAX_AUDIT_DETAIL_CHARS - 100) });
}

export class AuditLog implements AuditStore {
  private readonly q: (sql: string) => Statement;

  constructor(private readonly db: Db) {
    this.q = statementCache(db);
  }

  add(e: Omit<AuditEntry, 'ts'> & { ts?: number }): void {
    this.q('INSERT INTO audit_log (ts, user_id, actor, device_serial, action, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(e.ts ?? Date.now(), e.userId, e.actor, e.deviceSerial, e.action, encodeDetail(e.detail));
  }

  /** Several entries in one transaction: the broker batches per-message entries (see AuditWriter). */
  addMany(entries: AuditEntry[]): void {
    const stmt = this.q('INSERT INTO audit_log (ts, user_id, actor, device_serial, action, detail) VALUES (?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const e of entries) stmt.run(e.ts, e.userId, e.actor, e.deviceSerial, e.action, encodeDetail(e.detail));
    })();
  }

  /** Deletes entries older than `before` and all but the newest `maxRows`; returns how many went. */
  prune(before: number, maxRows: number): number {
    return this.db.transaction(() => {
      // Ids grow with time: the first entry young enough marks where the old ones end, found by reading
      // only the old ones (there is no index on ts).
      const young = this.q('SELECT id FROM audit_log WHERE ts >= ? ORDER BY id LIMIT 1').get(before) as { id: number } | undefined;
      let n = young
        ? this.q('DELETE FROM audit_log WHERE id < ?').run(young.id).changes
        : this.q('DELETE FROM audit_log').run().changes;
      const edge = this.q('SELECT id FROM audit_log ORDER BY id DESC LIMIT 1 OFFSET ?').get(maxRows) as { id: number } | undefined;
      if (edge) n += this.q('DELETE FROM audit_log WHERE id <= ?').run(edge.id).changes;
      return n;
    }).immediate();
  }

  /** Newest first; `before` an entry id, for the next page. */
  list(filter: { deviceSerial?: string; userId?: string; action?: string; limit?: number; before?: number } = {}): Array<AuditEntry & { id: number }> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.deviceSerial !== undefined) { where.push('device_serial = ?'); args.push(filter.deviceSerial); }
    if (filter.userId !== undefined) { where.push('user_id = ?'); args.push(filter.userId); }
    if (filter.action !== undefined) { where.push('action = ?'); args.push(filter.action); }
    if (filter.before !== undefined) { where.push('id < ?'); args.push(filter.before); }
    const sql = `SELECT * FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    args.push(filter.limit ?? 100);
    return (this.q(sql).all(...args) as Array<{ id: number; ts: number; user_id: number | null; actor: string; device_serial: string | null; action: string; detail: string }>)
      .map((r) => ({
        id: r.id, ts: r.ts, userId: r.user_id === null ? null : String(r.user_id), actor: r.actor, deviceSerial: r.device_serial, action: r.action, detail: JSON.parse(r.detail),
      }));
  }
}
