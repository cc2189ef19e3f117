// A serving hub's SQLite connections never checkpoint inside a commit (an fsync and a copy of every new
// page, on the event loop); a worker thread does it on its own connection. If that thread ends, the
// connection checkpoints for itself again, so the WAL never grows without bound.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openDb } from '../../../../broker/store/db.js';
import { AUTOCHECKPOINT_PAGES, type CheckpointReport, WalCheckpointer } from '../../../../broker/store/wal-checkpointer.js';
import { createLogger } from '../../../../shared/log.js';

const dir = mkdtempSync(join(tmpdir(), 'pifleet-wal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function logged() {
  const lines: string[] = [];
  return { lines, log: createLogger('test', { write: (l: string) => { lines.push(l); } }) };
}

function blobs(file: string) {
  const db = openDb(file, { migrations: ['CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)'] });
  const insert = db.prepare('INSERT INTO t (b) VALUES (?)');
  /** `pages` new pages of the table, in transactions of 100 rows (~100 pages) each. */
  const write = (pages: number) => {
    for (let n = 0; n < pages; n += 100) db.transaction(() => { for (let i = 0; i < 100; i++) insert.run(Buffer.alloc(3000, i)); })();
  };
  return { db, write };
}

describe('WalCheckpointer', () => {
  it('takes the checkpoints out of the commits: the thread copies the WAL into the file', async () => {
    const file = join(dir, 'a.db');
    const { db, write } = blobs(file);
    const reports: CheckpointReport[] = [];
    const { log, lines } = logged();
    const c = new WalCheckpointer(db, log, 50, (r) => reports.push(r));
    c.start();
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0, 'no checkpoint inside a commit');
    const before = statSync(file).size;
    write(2 * AUTOCHECKPOINT_PAGES); // ~8 MB: two autocheckpoints' worth
    for (let i = 0; i < 100 && !reports.some((r) => r.checkpointed > 0 && r.checkpointed === r.log); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(reports.some((r) => r.checkpointed > 0 && r.checkpointed === r.log), `the thread checkpointed the whole WAL (${JSON.stringify(reports.slice(-3))})`);
    assert.ok(statSync(file).size > before + 4_000_000, 'the pages are in the database file');
    assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 2000);
    await c.stop();
    db.close();
    assert.deepEqual(lines, []);
  });

  it('when the thread ends, the connection checkpoints for itself again', async () => {
    const file = join(dir, 'b.db');
    const { db, write } = blobs(file);
    unlinkSync(file); // the connection keeps its file open; the thread cannot open it
    const { log, lines } = logged();
    const c = new WalCheckpointer(db, log, 50);
    c.start();
    await c.ended();
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), AUTOCHECKPOINT_PAGES);
    assert.ok(lines.some((l) => l.includes('the WAL checkpoint thread failed')), lines.join('\n'));
    write(100);
    db.close();
  });

  it('an in-memory database has nothing to checkpoint: no thread', async () => {
    const db = new Database(':memory:');
    const c = new WalCheckpointer(db, createLogger('test', { write: () => {} }), 50);
    c.start();
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), AUTOCHECKPOINT_PAGES);
    await c.stop();
    db.close();
  });
});
