// The worker thread of wal-checkpointer.ts: its own connection to the database file, and a PASSIVE
// checkpoint every `everyMs`. PASSIVE never waits for a reader or a writer, so the hub's own connection
// is never held by it; what it cannot copy this time it copies next time.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const { file, everyMs } = workerData as { file: string; everyMs: number };
const db = new Database(file, { fileMustExist: true });
db.pragma('busy_timeout = 0');

const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (r && r.log > 0) parentPort?.postMessage({ log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    // SQLITE_BUSY: another connection (the CLI, another hub node) checkpoints right now; next time.
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
  }
}, everyMs);

parentPort?.on('message', (m: unknown) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
