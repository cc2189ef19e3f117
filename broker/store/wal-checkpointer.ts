// SQLite copies a WAL database's new pages back into its file at a checkpoint, and by default does so
// inside the commit that takes the WAL past 1,000 pages, with an fsync: on the hub's one event loop
// that held every connection for 20–80 ms at a time (10,000 Pis' reports are ~9 MB of WAL a second;
// docs/BENCHMARKING.md, "Checkpoints off the event loop"). So a serving hub turns that off on its own
// connection and checkpoints from a worker thread instead, every second. If the worker ever ends,
// the connection checkpoints for itself again: the WAL never grows without bound.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../shared/log.js';
import type { Db } from './db.js';

/** SQLite's default: the commit that takes the WAL past this many pages checkpoints. */
export const AUTOCHECKPOINT_PAGES = 1000;

export interface CheckpointReport {
  /** Pages in the WAL, and of them copied back into the database file. */
  log: number;
  checkpointed: number;
}

export class WalCheckpointer {
  private worker: Worker | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(private readonly db: Db, private readonly log: Logger, private readonly everyMs = 1000, private readonly onReport?: (r: CheckpointReport) => void) {}

  start(): void {
    if (this.db.memory || this.worker) return;
    const worker = new Worker(new URL('./wal-checkpoint-worker.js', import.meta.url), {
      workerData: { file: this.db.name, everyMs: this.everyMs },
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    this.worker = worker;
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    if (this.onReport) worker.on('message', this.onReport); // before unref(): a listener added later refs the thread again
    worker.unref(); // a hub that forgets to stop it still exits
    this.db.pragma('wal_autocheckpoint = 0');
    worker.on('error', (err) => this.log.error('the WAL checkpoint thread failed; checkpoints go back into commits', { file: this.db.name, error: err.message }));
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = null;
      if (!this.stopping && this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    });
  }

  /** Ends the thread (its connection closed first); resolves once it has ended. */
  stop(): Promise<void> {
    this.stopping = true;
    this.worker?.postMessage('stop');
    return this.ended();
  }

  /** Resolves when the thread has ended, asked to or not (the process waits for it meanwhile). */
  ended(): Promise<void> {
    this.worker?.ref();
    return this.exited;
  }
}
