// Audit entries (who, when, device, what), written in batches (BatchWriter).
import type { Logger } from '../shared/log.js';
import { BatchWriter } from './batch-writer.js';
import type { AuditEntry } from './store/audit.js';
import type { Store } from './store/store.js';

export class AuditWriter extends BatchWriter {
  private buffer: AuditEntry[] = [];

  constructor(private readonly store: Store, private readonly log: Logger, flushMs = 250) { super(flushMs); }

  add(e: Omit<AuditEntry, 'ts'>): void {
    this.buffer.push({ ts: Date.now(), ...e });
    // A full buffer is written right after the current message, never inside its publish.
    if (this.buffer.length === 500) setImmediate(() => this.flush());
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
}
