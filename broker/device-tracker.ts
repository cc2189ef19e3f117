// What the hub remembers of each device: last status, last seen, last stats and manifest. Reports
// arrive on the broker's hot path, so each device has one stable entry (a connection holds on to its
// own), marked dirty per message and written to SQLite each flush, in small chunks of one transaction
// each. Stats are parsed and validated only then, once per device per flush; "last seen" is the time of
// its chunk.
//
// The stats history keeps a point a minute: the minute's last sample (store/history.ts). The current
// minute's point stays here, replaced by each sample, and is written once its minute is over — by the
// Pi's first sample of a later minute, or by a sweep for a Pi that went quiet, or at stop. A Pi sending
// every 5 s costs two history rows a minute instead of two a sample (issue 14: 10,000 Pis).
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
  /** Something came from the device since its last write (dirty may also mean: its point is due). */
  reported?: boolean;
  /** The current minute's history point, not written yet. */
  point?: HistoryPoint;
  online?: boolean;
  status?: unknown;
  rawStats?: Buffer;
  manifest?: unknown;
}

/**
 * Devices written per turn of the event loop (flush). A device costs ~60 µs (its sample validated, a
 * row updated, two history points, their share of the commit): 250 held the loop 16–60 ms, and a
 * command arriving meanwhile waited (issue 14, docs/BENCHMARKING.md "Where the stalls come from").
 * The chunks of a flush are spread over its interval, not run back to back: 20 chunks in a row (1,000
 * Pis reporting a second) held every turn of the loop for ~150 ms, and each command caught then waited
 * at each of its turns in the hub (docs/BENCHMARKING.md "A stall a second").
 */
const FLUSH_CHUNK = 50;

const MINUTE = 60_000;
/** A quiet Pi's last point is written this long after its minute ended (the others roll over themselves). */
const POINT_GRACE_MS = 10_000;
const minuteOf = (ts: number) => Math.floor(ts / MINUTE);
const entryKey = (userId: string, serial: string) => `${userId}/${serial}`;
type HistorySample = { userId: string; serial: string; point: HistoryPoint };

export class DeviceTracker extends BatchWriter {
  private readonly entries = new Map<string, DeviceEntry>();
  private dirty: DeviceEntry[] = [];
  private prune: NodeJS.Timeout | null = null;
  private draining: NodeJS.Timeout | null = null;
  /** Entries holding a point not written yet. */
  private readonly pending = new Set<DeviceEntry>();
  private sweptMinute = 0;

  constructor(private readonly store: HubStore, private readonly log: Logger, flushMs = 1000, private readonly now: () => number = Date.now) { super(flushMs); }

  /** The device's entry; the same object for as long as the hub runs. */
  device(userId: string, serial: string): DeviceEntry {
    const key = entryKey(userId, serial);
    let e = this.entries.get(key);
    if (!e) this.entries.set(key, (e = { serial, userId, dirty: false }));
    return e;
  }

  /** Is `serial` a Pi of this user? (Requests to any other serial are refused.) */
  enrolled(userId: string, serial: string): boolean {
    return this.store.devices.isEnrolled(userId, serial);
  }

  /** The device's newest history point not yet in the store (its current minute), if any. */
  pendingPoint(userId: string, serial: string): HistoryPoint | null {
    return this.entries.get(entryKey(userId, serial))?.point ?? null;
  }

  /** The device was removed: its point not written yet goes with it. */
  forget(userId: string, serial: string): void {
    const e = this.entries.get(entryKey(userId, serial));
    if (!e) return;
    this.pending.delete(e);
    e.point = undefined;
  }

  private touch(e: DeviceEntry): void {
    e.reported = true;
    this.due(e);
  }

  private due(e: DeviceEntry): void {
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
    this.sweep();
    if (this.draining) clearTimeout(this.draining); // still at it: paced again, for what is due now
    this.draining = null;
    this.writeChunk();
    const chunks = Math.ceil(this.dirty.length / FLUSH_CHUNK);
    if (chunks === 0) return;
    // The rest, a chunk at a time, evenly over this interval (the next flush paces whatever is left).
    const gap = Math.max(1, Math.floor(this.flushMs / (chunks + 1)));
    const next = () => {
      this.writeChunk();
      this.draining = this.dirty.length > 0 ? setTimeout(next, gap) : null;
    };
    this.draining = setTimeout(next, gap);
  }

  /** Once a minute: the points of Pis that went quiet, due once their minute is over (and a grace). */
  private sweep(): void {
    const minute = minuteOf(this.now() - POINT_GRACE_MS);
    if (minute === this.sweptMinute) return;
    this.sweptMinute = minute;
    for (const e of this.pending) if (minuteOf(e.point!.ts) < minute) this.due(e);
  }

  private writeChunk(): void {
    if (this.dirty.length === 0) return;
    const batch = this.dirty.length <= FLUSH_CHUNK ? this.dirty : this.dirty.slice(0, FLUSH_CHUNK);
    this.dirty = batch === this.dirty ? [] : this.dirty.slice(FLUSH_CHUNK);
    const seenAt = this.now();
    const history: HistorySample[] = [];
    const reports: DeviceReport[] = [];
    for (const e of batch) {
      e.dirty = false;
      if (e.point && minuteOf(e.point.ts) < minuteOf(seenAt)) this.written(e, history);
      if (!e.reported) continue;
      e.reported = false;
      const r: DeviceReport = { serial: e.serial, userId: e.userId, seenAt };
      if (e.status !== undefined) { r.status = e.status; r.online = e.online ?? false; }
      if (e.manifest !== undefined) r.manifest = e.manifest;
      if (e.rawStats !== undefined) {
        const stats = parseValid(e.rawStats, StatsSchema);
        if (stats) {
          r.stats = stats;
          e.point = historyPoint(stats, seenAt, e.point);
          this.pending.add(e);
        } else {
          this.log.warn('invalid stats not recorded', { device: e.serial });
        }
      }
      e.status = e.rawStats = e.manifest = undefined;
      reports.push(r);
    }
    this.write(reports, history);
  }

  /** Moves the entry's point into `history` (to be written). */
  private written(e: DeviceEntry, history: HistorySample[]): void {
    history.push({ userId: e.userId, serial: e.serial, point: e.point! });
    e.point = undefined;
    this.pending.delete(e);
  }

  private write(reports: DeviceReport[], history: HistorySample[]): void {
    if (reports.length === 0 && history.length === 0) return;
    try {
      // One commit for both: a commit is a third of a chunk's time.
      this.store.transaction(() => {
        if (reports.length > 0) this.store.devices.applyReports(reports);
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
    const history: HistorySample[] = [];
    for (const e of [...this.pending]) this.written(e, history);
    this.write([], history);
    if (this.draining) clearTimeout(this.draining);
    this.draining = null;
  }
}

/**
 * What the history keeps of a sample: charted values, timed by the hub (a Pi without a clock may be
 * off). The minute's point is overwritten in place (`into`), not made again for each sample: a new
 * one each time, held until the next, was promoted to the old generation every 5 s for every Pi.
 */
function historyPoint(s: Stats, ts: number, into: HistoryPoint = {} as HistoryPoint): HistoryPoint {
  const disk = s.disk.find((d) => d.mount === '/') ?? s.disk[0];
  into.ts = ts;
  into.load = s.cpu.load;
  into.tempC = s.cpu.tempC ?? null;
  into.memUsed = s.mem.used;
  into.memTotal = s.mem.total;
  into.diskUsed = disk?.used ?? null;
  into.diskSize = disk?.size ?? null;
  return into;
}
