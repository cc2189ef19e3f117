// What the hub remembers of each device: last status, last seen, last stats and manifest. Reports
// arrive on the broker's hot path, so each device has one stable entry (a connection holds on to its
// own), marked dirty per message and written to SQLite each flush, in small chunks of one transaction
// each. Stats are parsed and validated only then, once per device per flush; "last seen" is the time of
// its chunk.
import { parseValid } from '../shared/json.js';
import type { Logger } from '../shared/log.js';
import { type Stats, StatsSchema } from '../shared/schemas.js';
import { BatchWriter } from './batch-writer.js';
import type { DeviceReport, HistoryPoint, HubStore } from './store/store.js';
import type { StatsBucket } from './fleet-limits.js';

export interface DeviceEntry extends StatsBucket {
  readonly serial: string;
  readonly userId: string;
  dirty: boolean;
  online?: boolean;
  status?: unknown;
  rawStats?: Buffer;
  manifest?: unknown;
}

/**
 * Devices written per turn of the event loop (flush). A device costs ~60 µs (its sample validated, a
 * row updated, two history points, their share of the commit): 250 held the loop 16–60 ms, and a
 * command arriving meanwhile waited (issue 14, docs/BENCHMARKING.md "Where the stalls come from").
 */
const FLUSH_CHUNK = 50;

export class DeviceTracker extends BatchWriter {
  private readonly entries = new Map<string, DeviceEntry>();
  private dirty: DeviceEntry[] = [];
  private prune: NodeJS.Timeout | null = null;
  private draining: NodeJS.Immediate | null = null;

  constructor(private readonly store: HubStore, private readonly log: Logger, flushMs = 1000) { super(flushMs); }

  /** The device's entry; the same object for as long as the hub runs. */
  device(userId: string, serial: string): DeviceEntry {
    const key = `${userId}/${serial}`;
    let e = this.entries.get(key);
    if (!e) this.entries.set(key, (e = { serial, userId, dirty: false }));
    return e;
  }

  /** Is `serial` a Pi of this user? (Requests to any other serial are refused.) */
  enrolled(userId: string, serial: string): boolean {
    return this.store.devices.isEnrolled(userId, serial);
  }

  private touch(e: DeviceEntry): void {
    if (e.dirty) return;
    e.dirty = true;
    this.dirty.push(e);
  }

  seen(e: DeviceEntry): void { this.touch(e); }

  status(e: DeviceEntry, status: { online: boolean }): void {
    e.status = status;
    e.online = status.online;
    this.touch(e);
  }

  stats(e: DeviceEntry, raw: Buffer): void {
    e.rawStats = raw;
    this.touch(e);
  }

  manifest(e: DeviceEntry, manifest: unknown): void {
    e.manifest = manifest;
    this.touch(e);
  }

  /**
   * Writes the devices that reported since the last flush, FLUSH_CHUNK per turn of the event loop:
   * with thousands of Pis sending stats, one transaction for all of them (each sample validated, a
   * row updated and a history point added) held the event loop for ~100 ms every second, and every
   * command's round trip waited behind it (issue 14).
   */
  override flush(): void {
    this.writeChunk();
    if (this.dirty.length > 0 && !this.draining) {
      this.draining = setImmediate(() => { this.draining = null; this.flush(); });
    }
  }

  private writeChunk(): void {
    if (this.dirty.length === 0) return;
    const batch = this.dirty.length <= FLUSH_CHUNK ? this.dirty : this.dirty.slice(0, FLUSH_CHUNK);
    this.dirty = batch === this.dirty ? [] : this.dirty.slice(FLUSH_CHUNK);
    const seenAt = Date.now();
    const history: Array<{ userId: string; serial: string; point: HistoryPoint }> = [];
    const reports: DeviceReport[] = batch.map((e) => {
      const r: DeviceReport = { serial: e.serial, userId: e.userId, seenAt };
      if (e.status !== undefined) { r.status = e.status; r.online = e.online ?? false; }
      if (e.manifest !== undefined) r.manifest = e.manifest;
      if (e.rawStats !== undefined) {
        const stats = parseValid(e.rawStats, StatsSchema);
        if (stats) {
          r.stats = stats;
          history.push({ userId: e.userId, serial: e.serial, point: historyPoint(stats, seenAt) });
        } else {
          this.log.warn('invalid stats not recorded', { device: e.serial });
        }
      }
      e.dirty = false;
      e.status = e.rawStats = e.manifest = undefined;
      return r;
    });
    try {
      // One commit for both: a commit is a third of a chunk's time.
      this.store.transaction(() => {
        this.store.devices.applyReports(reports);
        if (history.length > 0) this.store.history.add(history);
      });
    } catch (err) {
      this.log.error('cannot record device reports', { error: (err as Error).message });
    }
  }

  override start(): void {
    super.start();
    this.prune = setInterval(() => {
      try {
        this.store.history.prune();
      } catch (err) {
        this.log.error('cannot prune the stats history', { error: (err as Error).message });
      }
    }, 3_600_000);
    this.prune.unref();
  }

  override stop(): void {
    if (this.prune) clearInterval(this.prune);
    this.prune = null;
    super.stop();
    while (this.dirty.length > 0) this.writeChunk(); // everything, now: the store closes next
    if (this.draining) clearImmediate(this.draining);
    this.draining = null;
  }
}

/** What the history keeps of a sample: charted values, timed by the hub (a Pi without a clock may be off). */
function historyPoint(s: Stats, ts: number): HistoryPoint {
  const disk = s.disk.find((d) => d.mount === '/') ?? s.disk[0];
  return {
    ts, load: s.cpu.load, tempC: s.cpu.tempC ?? null, memUsed: s.mem.used, memTotal: s.mem.total,
    diskUsed: disk?.used ?? null, diskSize: disk?.size ?? null,
  };
}
