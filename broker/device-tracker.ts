// What the hub remembers of each device: last status, last seen, last stats and manifest. Reports
// arrive per message on the broker's hot path, so they are kept in memory and written to SQLite in
// one transaction per flush; stats are parsed and validated only then, once per device per flush.
import { ManifestSchema, StatsSchema, StatusSchema } from '../shared/schemas.js';
import type { Logger } from '../shared/log.js';
import { BatchWriter } from './batch-writer.js';
import type { DeviceReport } from './store/devices.js';
import type { Store } from './store/store.js';

interface Pending { serial: string; userId: string; seenAt: number; online?: boolean; status?: unknown; rawStats?: Buffer; manifest?: unknown }

export class DeviceTracker extends BatchWriter {
  private pending = new Map<string, Pending>();

  constructor(private readonly store: Store, private readonly log: Logger, flushMs = 1000) { super(flushMs); }

  private entry(userId: string, serial: string): Pending {
    const key = `${userId}/${serial}`;
    let e = this.pending.get(key);
    if (!e) this.pending.set(key, (e = { serial, userId, seenAt: Date.now() }));
    e.seenAt = Date.now();
    return e;
  }

  seen(userId: string, serial: string): void { this.entry(userId, serial); }

  status(userId: string, serial: string, status: { online: boolean }): void {
    const e = this.entry(userId, serial);
    e.status = status;
    e.online = status.online;
  }

  stats(userId: string, serial: string, raw: Buffer): void { this.entry(userId, serial).rawStats = raw; }

  manifest(userId: string, serial: string, manifest: unknown): void { this.entry(userId, serial).manifest = manifest; }

  override flush(): void {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const reports: DeviceReport[] = batch.map((p) => {
      const r: DeviceReport = { serial: p.serial, userId: p.userId, seenAt: p.seenAt };
      if (p.status !== undefined) { r.status = p.status; r.online = p.online ?? false; }
      if (p.manifest !== undefined) r.manifest = p.manifest;
      if (p.rawStats !== undefined) {
        const stats = parseValid(p.rawStats, StatsSchema);
        if (stats) r.stats = stats;
        else this.log.warn('invalid stats not recorded', { device: p.serial });
      }
      return r;
    });
    try {
      this.store.devices.applyReports(reports);
    } catch (err) {
      this.log.error('cannot record device reports', { error: (err as Error).message });
    }
  }
}

/** JSON.parse + schema, with no exception: null when either fails. */
export function parseValid<T>(raw: Buffer | string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): T | null {
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return null;
  }
  const r = schema.safeParse(value);
  return r.success ? r.data : null;
}

export { ManifestSchema, StatusSchema };
