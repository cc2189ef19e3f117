// What the hub remembers of each device: last status, last seen, last stats and manifest, and the stats
// history. Reports arrive on the broker's hot path, so each device has one stable entry (a connection
// holds on to its own) and a message only notes what came: its time, and for stats the raw sample.
//
// When the store learns it (docs/ARCHITECTURE.md, "HTTP API"):
// - a status or a manifest (online, offline, what the Pi offers) at the next flush, within a second;
// - everything else — last seen, the newest stats, the history points of minutes that are over — in
//   the device's routine write, once a minute at a second of its own (from a hash of its name, so that
//   a fleet started at once is still written evenly), if it said anything since its last write. A Pi
//   sending stats every 5 s so costs a row write a minute, not twelve: at 10,000 Pis the hub wrote 2,000
//   rows and ~9 MB of WAL a second (issue 14, docs/BENCHMARKING.md "The device row once a minute").
// Meanwhile this node answers with what it holds (latest, pendingPoints); another node reading hub.db
// sees the row, at most about a minute behind.
//
// Stats are parsed and validated only when written or shown: a minute's newest sample is all that is
// kept of it (the history keeps a point a minute, the minute's last sample: store/history.ts).
import { parseValid } from '../shared/json.js';
import type { Logger } from '../shared/log.js';
import { type Stats, StatsSchema } from '../shared/schemas.js';
import { BatchWriter } from './batch-writer.js';
import type { Device, DeviceReport, HistoryPoint, HubStore } from './store/store.js';
import type { StatsBucket } from './fleet-limits.js';

/** A stats sample as it came (its first `len` bytes of `buf`), not read yet: the newest of its minute. */
interface Sample { buf: Buffer; len: number; at: number }

export interface DeviceEntry extends StatsBucket {
  readonly serial: string;
  readonly userId: string;
  /** In the list written a chunk at a time (`dirty`), or waiting for its routine write (`queued`). */
  dirty: boolean;
  queued?: boolean;
  /** Its second of the minute for routine writes (0–59). */
  readonly slot: number;
  /** When its last message came, and what of that the store has. */
  seenAt?: number;
  writtenSeenAt?: number;
  /** Status and manifest not written yet. */
  status?: { online: boolean };
  manifest?: unknown;
  /** Samples not read yet, oldest first, one a minute. */
  samples?: Sample[];
  /** History points read and not written, oldest first, one a minute; the last may be the running minute's. */
  points?: HistoryPoint[];
}

/**
 * Devices written per turn of the event loop. A device costs ~60 µs (its sample validated, a row
 * updated, history points, their share of the commit): 250 held the loop 16–60 ms, and a command
 * arriving meanwhile waited (issue 14, docs/BENCHMARKING.md "Where the stalls come from"). The chunks of
 * a flush are spread over its interval, not run back to back (docs/BENCHMARKING.md "A stall a second").
 */
const FLUSH_CHUNK = 50;

/** A device's second of the minute for its routine writes: FNV-1a of its key, spread evenly over 60. */
export function writeSlot(userId: string, serial: string): number {
  const key = entryKey(userId, serial);
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 60;
}

const MINUTE = 60_000;
const minuteOf = (ts: number) => Math.floor(ts / MINUTE);
const secondOf = (ts: number) => Math.floor(ts / 1000);
function entryKey(userId: string, serial: string): string { return `${userId}/${serial}`; }
type HistorySample = { userId: string; serial: string; point: HistoryPoint };
type Newest = { stats: Stats; at: number };

export class DeviceTracker extends BatchWriter {
  private readonly entries = new Map<string, DeviceEntry>();
  /** Written now, a chunk per turn of the loop. */
  private dirty: DeviceEntry[] = [];
  /** Waiting for their routine write, by their second of the minute; and the last second taken. */
  private wheel: DeviceEntry[][] = Array.from({ length: 60 }, () => []);
  private takenSecond = -1;
  private prune: NodeJS.Timeout | null = null;
  private draining: NodeJS.Timeout | null = null;

  constructor(private readonly store: HubStore, private readonly log: Logger, flushMs = 1000, private readonly now: () => number = Date.now) { super(flushMs); }

  /** The device's entry; the same object for as long as the hub runs. */
  device(userId: string, serial: string): DeviceEntry {
    const key = entryKey(userId, serial);
    let e = this.entries.get(key);
    if (!e) this.entries.set(key, (e = { serial, userId, dirty: false, slot: writeSlot(userId, serial) }));
    return e;
  }

  /** Is `serial` a Pi of this user? (Requests to any other serial are refused.) */
  enrolled(userId: string, serial: string): boolean {
    return this.store.devices.isEnrolled(userId, serial);
  }

  /** The stored device with what this node heard since its last write. */
  latest(d: Device): Device {
    const e = this.entries.get(entryKey(d.userId, d.serial));
    if (!e) return d;
    const v = { ...d };
    if (e.seenAt !== undefined && (v.lastSeenAt ?? 0) < e.seenAt) v.lastSeenAt = e.seenAt;
    if (e.status !== undefined) { v.lastStatus = e.status; v.online = e.status.online; }
    if (e.manifest !== undefined) v.manifest = e.manifest;
    // The newest valid sample (the older ones are read only if it is not).
    for (let i = (e.samples?.length ?? 0) - 1; i >= 0; i--) {
      const stats = parsed(e.samples![i]!);
      if (stats) { v.lastStats = stats; v.lastDataAt = e.samples![i]!.at; break; }
    }
    return v;
  }

  /** The device's history points not yet in the store (the running minute's last), oldest first. */
  pendingPoints(userId: string, serial: string): HistoryPoint[] {
    const e = this.entries.get(entryKey(userId, serial));
    return e ? this.read(e, false).points : [];
  }

  /** The device was removed: what it sent and was not written goes with it. */
  forget(userId: string, serial: string): void {
    const e = this.entries.get(entryKey(userId, serial));
    if (!e) return;
    e.samples = e.points = undefined;
  }

  /** A message came: the device is written at its next second of the minute, unless it is due already. */
  private touch(e: DeviceEntry): void {
    e.seenAt = this.now();
    this.schedule(e);
  }

  private schedule(e: DeviceEntry): void {
    if (e.dirty || e.queued) return;
    e.queued = true;
    this.wheel[e.slot]!.push(e);
  }

  private writeSoon(e: DeviceEntry): void {
    if (e.dirty) return;
    e.dirty = true;
    this.dirty.push(e);
  }

  seen(e: DeviceEntry): void { this.touch(e); }

  status(e: DeviceEntry, status: { online: boolean }): void {
    e.status = status;
    this.touch(e);
    this.writeSoon(e);
  }

  manifest(e: DeviceEntry, manifest: unknown): void {
    e.manifest = manifest;
    this.touch(e);
    this.writeSoon(e);
  }

  stats(e: DeviceEntry, raw: Buffer): void {
    this.touch(e);
    const at = e.seenAt!;
    const samples = (e.samples ??= []);
    const last = samples[samples.length - 1];
    if (last && minuteOf(last.at) === minuteOf(at)) {
      // The minute's newer sample, in the older one's place when it fits (they differ by a few bytes).
      if (last.buf.length < raw.length) last.buf = sampleBuffer(raw.length);
      raw.copy(last.buf);
      last.len = raw.length;
      last.at = at;
    } else {
      // A copy: the payload may be a view of a larger read buffer, and it is held for up to a minute.
      // At most two or three a device: it is written within ~61 s of its first.
      const buf = sampleBuffer(raw.length);
      raw.copy(buf);
      samples.push({ buf, len: raw.length, at });
    }
  }

  /**
   * The device's samples read: history points (one a minute, the minute's last valid sample) after the
   * ones already read, and the newest valid stats. `consume` moves them into the entry (to be written),
   * logging the invalid; otherwise the entry is left as it is (a view).
   */
  private read(e: DeviceEntry, consume: boolean): { newest: Newest | null; points: HistoryPoint[] } {
    const points = e.points ? [...e.points] : [];
    let newest: Newest | null = null;
    for (const s of e.samples ?? []) {
      const stats = parsed(s);
      if (!stats) {
        if (consume) this.log.warn('invalid stats not recorded', { device: e.serial });
        continue;
      }
      newest = { stats, at: s.at };
      const p = historyPoint(stats, s.at);
      const last = points[points.length - 1];
      if (last && minuteOf(last.ts) === minuteOf(p.ts)) points[points.length - 1] = p;
      else points.push(p);
    }
    if (consume) {
      e.samples = undefined;
      e.points = points.length > 0 ? points : undefined;
    }
    return { newest, points };
  }

  /**
   * Writes what is due: statuses and manifests that came, and the devices whose routine write is due;
   * FLUSH_CHUNK per turn of the event loop, spread over the interval: one transaction for thousands of
   * devices held the event loop for ~100 ms, and every command's round trip waited behind it (issue 14).
   */
  override flush(): void {
    this.takeDue(this.now());
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

  /** Moves the devices whose second came since the last flush into the list written now. */
  private takeDue(now: number): void {
    const second = secondOf(now);
    if (this.takenSecond < 0) this.takenSecond = second - 1;
    const from = Math.max(this.takenSecond + 1, second - 59); // a minute at most: every slot once
    for (let s = from; s <= second; s++) {
      const due = this.wheel[s % 60]!;
      if (due.length === 0) continue;
      this.wheel[s % 60] = [];
      for (const e of due) {
        e.queued = false;
        if (this.unwritten(e)) this.writeSoon(e);
      }
    }
    this.takenSecond = Math.max(this.takenSecond, second);
  }

  /** Something the store does not have yet: for the device row, or samples and points. */
  private unwritten(e: DeviceEntry): boolean {
    return this.rowUnwritten(e) || e.samples !== undefined || e.points !== undefined;
  }

  private rowUnwritten(e: DeviceEntry): boolean {
    return e.seenAt !== e.writtenSeenAt || e.status !== undefined || e.manifest !== undefined;
  }

  private writeChunk(): void {
    if (this.dirty.length === 0) return;
    const batch = this.dirty.length <= FLUSH_CHUNK ? this.dirty : this.dirty.slice(0, FLUSH_CHUNK);
    this.dirty = batch === this.dirty ? [] : this.dirty.slice(FLUSH_CHUNK);
    this.writeEntries(batch, false);
  }

  /** Writes the entries; `all`: the running minute's points too (the hub stops). */
  private writeEntries(batch: DeviceEntry[], all: boolean): void {
    const now = this.now();
    const over = minuteOf(now);
    const history: HistorySample[] = [];
    const reports: DeviceReport[] = [];
    for (const e of batch) {
      e.dirty = false;
      const newest = this.read(e, true).newest;
      const points = e.points;
      if (points) {
        let kept = 0;
        for (const p of points) {
          if (all || minuteOf(p.ts) < over) history.push({ userId: e.userId, serial: e.serial, point: p });
          else points[kept++] = p;
        }
        points.length = kept;
        if (kept === 0) e.points = undefined;
      }
      if (this.rowUnwritten(e) || newest) {
        const r: DeviceReport = { serial: e.serial, userId: e.userId, seenAt: e.seenAt ?? now };
        if (e.status !== undefined) { r.status = e.status; r.online = e.status.online; }
        if (e.manifest !== undefined) r.manifest = e.manifest;
        if (newest) { r.stats = newest.stats; r.dataAt = newest.at; }
        reports.push(r);
      }
      e.writtenSeenAt = e.seenAt;
      e.status = e.manifest = undefined;
      // The running minute's point is written once it is over, even if the Pi says nothing more.
      if (e.points) this.schedule(e);
    }
    this.write(reports, history);
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

  /** Writes everything now, the running minute's points included: the store closes next. */
  override stop(): void {
    if (this.prune) clearInterval(this.prune);
    this.prune = null;
    super.stop();
    if (this.draining) clearTimeout(this.draining);
    this.draining = null;
    const left = [...this.entries.values()].filter((e) => this.unwritten(e));
    this.dirty = [];
    this.wheel = Array.from({ length: 60 }, () => []);
    for (const e of left) e.queued = false;
    for (let i = 0; i < left.length; i += FLUSH_CHUNK) this.writeEntries(left.slice(i, i + FLUSH_CHUNK), true);
  }
}

/** The sample's stats if it is valid (StatsSchema), else null. */
function parsed(s: Sample): Stats | null {
  return parseValid(s.buf.subarray(0, s.len), StatsSchema);
}

/** Outside Node's shared 8 KiB pool (a pooled slice would keep its whole slab), a little room to grow. */
function sampleBuffer(len: number): Buffer {
  return Buffer.allocUnsafeSlow((len + 63) & ~63);
}

/** What the history keeps of a sample: charted values, timed by the hub (a Pi without a clock may be off). */
function historyPoint(s: Stats, ts: number): HistoryPoint {
  const disk = s.disk.find((d) => d.mount === '/') ?? s.disk[0];
  return {
    ts,
    load: s.cpu.load,
    tempC: s.cpu.tempC ?? null,
    memUsed: s.mem.used,
    memTotal: s.mem.total,
    diskUsed: disk?.used ?? null,
    diskSize: disk?.size ?? null,
  };
}
