// Audit entries (who, when, device, what) are batched: one transaction per flush instead of one
// write per MQTT message. stop() writes what is left.
import type { Logger } from '../shared/log.js';
import type { AuditEntry } from './store/audit.js';
import type { Store } from './store/store.js';

export class AuditWriter {
  private buffer: AuditEntry[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly store: Store, private readonly log: Logger, private readonly flushMs = 250) {}

  start(): void {
    this.timer = setInterval(() => this.flush(), this.flushMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.flush();
  }

  add(e: Omit<AuditEntry, 'ts'>): void {
    this.buffer.push({ ts: Date.now(), ...e });
    if (this.buffer.length >= 500) this.flush();
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    try {
      this.store.audit.addMany(batch);
    } catch (err) {
      this.log.error('cannot write the audit log', { error: (err as Error).message, entries: batch.length });
    }
  }
}
