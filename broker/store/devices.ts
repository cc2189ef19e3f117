import type { Statement } from 'better-sqlite3';
import { type Db, statementCache } from './db.js';
import type { Device, DeviceReport, DeviceStore } from './store.js';

interface Row {
  serial: string; user_id: number; api_key_id: string | null; cert_serial: string | null; enrolled_at: number;
  removed_at: number | null; last_seen_at: number | null; last_data_at: number | null; online: number;
  last_status: string | null; last_stats: string | null; manifest: string | null;
}
const json = (s: string | null): unknown => (s === null ? null : JSON.parse(s));
const toDevice = (r: Row): Device => ({
  serial: r.serial, userId: String(r.user_id), apiKeyId: r.api_key_id, certSerial: r.cert_serial,
  enrolledAt: r.enrolled_at, removedAt: r.removed_at, lastSeenAt: r.last_seen_at, lastDataAt: r.last_data_at, online: r.online === 1,
  lastStatus: json(r.last_status), lastStats: json(r.last_stats), manifest: json(r.manifest),
});

export class Devices implements DeviceStore {
  private readonly q: (sql: string) => Statement;

  constructor(private readonly db: Db) {
    this.q = statementCache(db);
  }

  get(userId: string, serial: string): Device | null {
    const r = this.q('SELECT * FROM devices WHERE user_id = ? AND serial = ?').get(userId, serial) as Row | undefined;
    return r ? toDevice(r) : null;
  }

  /** Is `serial` a Pi of this user, enrolled and not removed? */
  isEnrolled(userId: string, serial: string): boolean {
    return this.q('SELECT 1 FROM devices WHERE serial = ? AND user_id = ? AND removed_at IS NULL').get(serial, userId) !== undefined;
  }

  /** Records an enrollment (new or repeated) of the user's Pi `serial` with a new certificate. */
  enroll(userId: string, serial: string, apiKeyId: string | null, certSerial: string): void {
    this.q(`INSERT INTO devices (user_id, serial, api_key_id, cert_serial, enrolled_at)
      VALUES (@userId, @serial, @apiKeyId, @certSerial, @now)
      ON CONFLICT(user_id, serial) DO UPDATE SET api_key_id = @apiKeyId, cert_serial = @certSerial,
        enrolled_at = @now, removed_at = NULL, online = 0, last_status = NULL, last_stats = NULL, manifest = NULL`)
      .run({ serial, userId, apiKeyId, certSerial, now: Date.now() });
  }

  setCertificate(userId: string, serial: string, certSerial: string): void {
    this.q('UPDATE devices SET cert_serial = ? WHERE user_id = ? AND serial = ?').run(certSerial, userId, serial);
  }

  /** At start-up no device is connected yet, whatever the last run recorded. */
  markAllOffline(): void {
    this.q('UPDATE devices SET online = 0 WHERE online = 1').run();
  }

  markRemoved(userId: string, serial: string): void {
    this.q('UPDATE devices SET removed_at = ?, online = 0 WHERE user_id = ? AND serial = ?').run(Date.now(), userId, serial);
  }

  list(userId?: string): Device[] {
    const rows = userId === undefined
      ? this.q('SELECT * FROM devices WHERE removed_at IS NULL ORDER BY serial').all()
      : this.q('SELECT * FROM devices WHERE removed_at IS NULL AND user_id = ? ORDER BY serial').all(userId);
    return (rows as Row[]).map(toDevice);
  }

  count(userId: string): number {
    return (this.q('SELECT count(*) AS n FROM devices WHERE removed_at IS NULL AND user_id = ?').get(userId) as { n: number }).n;
  }

  /**
   * Writes what devices reported since their last write, in one transaction (see DeviceTracker): one
   * statement a device. Last seen and the newest stats never go back in time: with several hub nodes
   * the node a Pi left may write what it heard after the node it moved to (each writes a minute apart).
   */
  applyReports(reports: Iterable<DeviceReport>): void {
    const update = this.q(`UPDATE devices SET
        last_status = COALESCE(@status, last_status),
        online = COALESCE(@online, online),
        manifest = COALESCE(@manifest, manifest),
        last_stats = CASE WHEN @stats IS NOT NULL AND (last_data_at IS NULL OR last_data_at <= @dataAt) THEN @stats ELSE last_stats END,
        last_data_at = CASE WHEN @stats IS NOT NULL AND (last_data_at IS NULL OR last_data_at <= @dataAt) THEN @dataAt ELSE last_data_at END,
        last_seen_at = MAX(COALESCE(last_seen_at, 0), @seenAt)
      WHERE serial = @serial AND user_id = @userId`);
    this.db.transaction(() => {
      for (const r of reports) {
        update.run({
          serial: r.serial,
          userId: r.userId,
          seenAt: r.seenAt,
          status: r.status === undefined ? null : JSON.stringify(r.status),
          online: r.status === undefined ? null : r.online ? 1 : 0,
          manifest: r.manifest === undefined ? null : JSON.stringify(r.manifest),
          stats: r.stats === undefined ? null : JSON.stringify(r.stats),
          dataAt: r.dataAt ?? r.seenAt,
        });
      }
    })();
  }
}
