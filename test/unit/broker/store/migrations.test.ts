// The store's migrations keep what a hub already holds: a database made by an earlier pi-hub opens,
// migrates once, and its users, keys, devices and certificates are all still there. And hub.db is
// private: 0600 with its WAL and SHM files, whatever the umask; an older, wider file is narrowed.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../../broker/store/db.js';
import { SqliteStore } from '../../../../broker/store/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'pifleet-migrate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A database as pi-hub at schema `version` left it. */
function databaseAt(version: number, file: string): Database.Database {
  const db = new Database(file);
  for (let v = 0; v < version; v++) db.exec(MIGRATIONS[v]!);
  db.pragma(`user_version = ${version}`);
  return db;
}

describe('migrations', () => {
  it('schema 2 → now: devices become (user, serial), keys made before keep enroll and read, nothing is lost', () => {
    const file = join(dir, 'v2.db');
    const old = databaseAt(2, file);
    old.prepare("INSERT INTO users (id, name, password_hash, is_admin, created_at) VALUES (1, 'alice', 'h', 0, 1), (2, 'bob', 'h', 0, 1)").run();
    old.prepare("INSERT INTO api_keys (id, user_id, name, secret_hash, created_at) VALUES ('aaaaaaaaaaaa', 1, 'old', 'h', 5)").run();
    old.prepare(`INSERT INTO certificates (serial, kind, user_id, device_serial, api_key_id, not_before, not_after, created_at, pem)
      VALUES ('4a', 'device', 1, 'pi-1', 'aaaaaaaaaaaa', 0, 9999999999999, 6, 'PEM')`).run();
    old.prepare(`INSERT INTO devices (serial, user_id, api_key_id, cert_serial, enrolled_at, online, last_status)
      VALUES ('pi-1', 1, 'aaaaaaaaaaaa', '4a', 7, 1, '{"v":1,"online":true,"ts":1}')`).run();
    old.close();

    const store = SqliteStore.open(file);
    try {
      const raw = new Database(file, { readonly: true });
      assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      raw.close();
      const d = store.devices.get('1', 'pi-1');
      assert.deepEqual({ ...d, lastSeenAt: undefined }, {
        serial: 'pi-1', userId: '1', apiKeyId: 'aaaaaaaaaaaa', certSerial: '4a', enrolledAt: 7, removedAt: null, lastSeenAt: undefined, lastDataAt: null,
        online: true, lastStatus: { v: 1, online: true, ts: 1 }, lastStats: null, manifest: null,
      });
      const key = store.apiKeys.byId('aaaaaaaaaaaa')!;
      assert.deepEqual([key.scopes, key.usesLeft, key.expiresAt, key.name], [['enroll', 'read'], null, null, 'old']);
      assert.equal(store.certs.bySerial('4a')?.deviceSerial, 'pi-1');
      // and now a second user may have a Pi with the same serial
      store.devices.enroll('2', 'pi-1', null, '4b');
      assert.deepEqual(store.devices.list().map((x) => [x.userId, x.serial]), [['1', 'pi-1'], ['2', 'pi-1']]);
    } finally {
      store.close();
    }
  });
});

describe('hub.db on disk', () => {
  it('is created 0600 with its WAL and SHM files, under a permissive umask', () => {
    const file = join(dir, 'fresh.db');
    const previous = process.umask(0o022);
    try {
      const store = SqliteStore.open(file);
      store.setSetting('x', 'y'); // a write: the WAL file exists
      for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
      store.close();
    } finally {
      process.umask(previous);
    }
  });

  it('an existing, wider database is narrowed to 0600 when opened', () => {
    const file = join(dir, 'wide.db');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    SqliteStore.open(file).close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });
});
