// SQLite copies a WAL database's new pages back into its file at a checkpoint, and by default does so
// inside the commit that takes the WAL past 1,000 pages, with an fsync: on the hub's one event loop
// that held every connection for 20–80 ms, twice a second at 10,000 Pis (their reports are ~9 MB of
// WAL a second; docs/BENCHMARKING.md, "Checkpoints off the event loop"). So a serving hub turns that
// off on its own connection, and a worker thread copies the pages every second on a connection of its
// own, never waiting for anyone (PASSIVE).
//
// That alone never empties the WAL under a steady writer: SQLite starts it again from the top only
// when a write begins with every page already copied, and with a write every few milliseconds the
// thread never finishes between two. So once the WAL holds `restartPages`, the connection itself
// checkpoints what the thread left (the pages of the last moments, and the fsyncs), and its next write
// starts the WAL again. If the thread ever ends, the connection checkpoints in its commits again.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../shared/log.js';
import type { Db } from './db.js';

/** SQLite's default: the commit that takes the WAL past this many pages checkpoints. */
export const AUTOCHECKPOINT_PAGES = 1000;
/** The WAL is started again once it holds this many pages (4 KiB each): ~2 s of 10,000 Pis' reports. */
export const RESTART_PAGES = 4000;

export interface CheckpointReport {
  /** Pages in the WAL, and of them copied back into the database file. */
  log: number;
  checkpointed: number;
}

export interface WalCheckpointerOptions {
  everyMs?: number;
  restartPages?: number;
  /** Each of the thread's checkpoints (tests, the bench). */
  onReport?: (r: CheckpointReport) => void;
}

export class WalCheckpointer {
  private worker: Worker | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly everyMs: number;
  private readonly restartPages: number;

  constructor(private readonly db: Db, private readonly log: Logger, private readonly options: WalCheckpointerOptions = {}) {
    this.everyMs = options.everyMs ?? 1000;
    this.restartPages = options.restartPages ?? RESTART_PAGES;
  }

  start(): void {
    if (this.db.memory || this.worker) return;
    const worker = new Worker(new URL('./wal-checkpoint-worker.js', import.meta.url), {
      workerData: { file: this.db.name, everyMs: this.everyMs },
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    this.worker = worker;
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', this.onReport); // before unref(): a listener added later refs the thread again
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

  private readonly onReport = (r: CheckpointReport): void => {
    this.options.onReport?.(r);
    // Not inside a transaction (mqtt.db keeps one open until the end of the loop's turn): next time.
    if (r.log < this.restartPages || this.stopping || !this.db.open || this.db.inTransaction) return;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
    } catch (err) {
      this.log.warn('cannot checkpoint the WAL', { file: this.db.name, error: (err as Error).message });
    }
  };
}
