// What the broker learns per message is written to SQLite in batches: one transaction every
// `flushMs` instead of one write per message. stop() writes what is left.
export abstract class BatchWriter {
  private timer: NodeJS.Timeout | null = null;

  constructor(protected readonly flushMs: number) {}

  start(): void {
    this.timer = setInterval(() => this.flush(), this.flushMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.flush();
  }

  abstract flush(): void;
}
