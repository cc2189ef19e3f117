// Stats history: each sample a Pi sends is folded into a point a minute (the minute's last sample),
// kept 7 days, and a point an hour, kept 90 days. Bounded: a Pi has at most 10,080 + 2,160 rows.
import type { Statement } from 'better-sqlite3';
import { type Db, statementCache } from './db.js';
import type { HistoryPoint, HistoryStore } from './store.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
export const HISTORY_KEEP = { minutes: 7 * DAY, hours: 90 * DAY } as const;

interface Row { ts: number; load: number | null; temp_c: number | null; mem_used: number | null; mem_total: number | null; disk_used: number | null; disk_size: number | null }

export class History implements HistoryStore {
  private readonly q: (sql: string) => Statement;

  constructor(private readonly db: Db) {
    this.q = statementCache(db);
  }

  /** Records samples (a flush's worth), in one transaction. */
  add(samples: Iterable<{ userId: string; serial: string; point: HistoryPoint }>): void {
    const put = this.q(`INSERT OR REPLACE INTO stats_history (user_id, serial, resolution, ts, load, temp_c, mem_used, mem_total, disk_used, disk_size)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const { userId, serial, point: p } of samples) {
        for (const [res, step] of [[60, MINUTE], [3600, HOUR]] as const) {
          put.run(userId, serial, res, Math.floor(p.ts / step) * step, p.load, p.tempC, p.memUsed, p.memTotal, p.diskUsed, p.diskSize);
        }
      }
    })();
  }

  /** Points since `since`, oldest first: by the minute within the last 7 days, by the hour before. */
  range(userId: string, serial: string, since: number, now = Date.now()): HistoryPoint[] {
    const minutesFrom = now - HISTORY_KEEP.minutes;
    const rows = [
      ...(since < minutesFrom
        ? this.q('SELECT * FROM stats_history WHERE user_id = ? AND serial = ? AND resolution = 3600 AND ts >= ? AND ts < ? ORDER BY ts')
          .all(userId, serial, since, minutesFrom) as Row[]
        : []),
      ...this.q('SELECT * FROM stats_history WHERE user_id = ? AND serial = ? AND resolution = 60 AND ts >= ? ORDER BY ts')
        .all(userId, serial, Math.max(since, minutesFrom)) as Row[],
    ];
    return rows.map((r) => ({ ts: r.ts, load: r.load, tempC: r.temp_c, memUsed: r.mem_used, memTotal: r.mem_total, diskUsed: r.disk_used, diskSize: r.disk_size }));
  }

  /** Deletes points older than they are kept; returns how many. */
  prune(now = Date.now()): number {
    return this.q('DELETE FROM stats_history WHERE resolution = 60 AND ts < ?').run(now - HISTORY_KEEP.minutes).changes
      + this.q('DELETE FROM stats_history WHERE resolution = 3600 AND ts < ?').run(now - HISTORY_KEEP.hours).changes;
  }

  /** Forgets a Pi's history (it was removed). */
  forget(userId: string, serial: string): void {
    this.q('DELETE FROM stats_history WHERE user_id = ? AND serial = ?').run(userId, serial);
  }
}
