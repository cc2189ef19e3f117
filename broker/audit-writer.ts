// Audit entries (who, when, device, what), written in batches (BatchWriter), kept for a bounded time
// and count. Refusals a client can provoke at will (failed authentication, ACL refusals) are written
// at most once per key and window, the next entry counting what was left out.
import type { Logger } from '../shared/log.js';
import { BatchWriter } from './batch-writer.js';
import type { AuditEntry, HubStore } from './store/store.js';

export interface AuditRetention {
  /** Entries older than this go. */
  maxAgeMs: number;
  /** At most this many entries are kept, the newest. */
  maxRows: number;
}

const PRUNE_EVERY_MS = 3_600_000;
const THROTTLE_WINDOW_MS = 10_000;
const THROTTLE_KEYS = 10_000;

type NewEntry = Omit<AuditEntry, 'ts'>;

export class AuditWriter extends BatchWriter {
  private buffer: AuditEntry[] = [];
  private pruneTimer: NodeJS.Timeout | null = null;
  /** Per throttle key: when its last entry was written and how many were left out since. */
  private readonly throttled = new Map<string, { at: number; skipped: number }>();

  constructor(
    private readonly store: HubStore,
    private readonly log: Logger,
    private readonly retention: AuditRetention,
    flushMs = 250,
  ) { super(flushMs); }

  override start(): void {
    super.start();
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  override stop(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    super.stop();
  }

  add(e: NewEntry): void {
    this.buffer.push({ ts: Date.now(), ...e });
    // A full buffer is written right after the current message, never inside its publish.
    if (this.buffer.length === 500) setImmediate(() => this.flush());
  }

  /**
   * Writes `e` unless an entry with the same key was written less than a window ago; the next one
   * written carries `skipped`, the number left out in between.
   */
  addThrottled(key: string, e: NewEntry, now = Date.now()): void {
    const t = this.throttled.get(key);
    if (t && now - t.at < THROTTLE_WINDOW_MS) { t.skipped++; return; }
    const skipped = t?.skipped ?? 0;
    this.throttled.delete(key); // re-inserted last: the map stays in order of use, oldest first
    if (this.throttled.size >= THROTTLE_KEYS) this.throttled.delete(this.throttled.keys().next().value!);
    this.throttled.set(key, { at: now, skipped: 0 });
    this.add(skipped > 0 ? { ...e, detail: { ...(e.detail as object), skipped } } : e);
  }

  override flush(): void {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    try {
      this.store.audit.addMany(batch);
    } catch (err) {
      this.log.error('cannot write the audit log', { error: (err as Error).message, entries: batch.length });
    }
  }

  /** Applies the retention limits now. */
  prune(now = Date.now()): number {
    try {
      const n = this.store.audit.prune(now - this.retention.maxAgeMs, this.retention.maxRows);
      if (n > 0) this.log.info('audit log pruned', { entries: n });
      return n;
    } catch (err) {
      this.log.error('cannot prune the audit log', { error: (err as Error).message });
      return 0;
    }
  }
}
