// SQLite (better-sqlite3) in WAL mode so the CLI can work on the data directory while the hub runs.
// Migrations are versioned with PRAGMA user_version; each runs once, in a transaction.
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

export type Db = Database.Database;

export const MIGRATIONS: readonly string[] = [
  // 1: users, API keys, certificates, devices, audit log, settings
  `
  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
  );
  CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    name         TEXT,
    secret_hash  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
  );
  CREATE INDEX api_keys_user ON api_keys(user_id);
  CREATE TABLE certificates (
    serial        TEXT PRIMARY KEY,          -- hex, the X.509 serial number
    kind          TEXT NOT NULL CHECK (kind IN ('device', 'user')),
    user_id       INTEGER NOT NULL REFERENCES users(id),
    device_serial TEXT,                       -- the Pi's serial (CN) for device certificates
    api_key_id    TEXT REFERENCES api_keys(id),
    not_before    INTEGER NOT NULL,
    not_after     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    renewed_by    TEXT,                       -- serial of the certificate that replaced it by renewal
    revoked_at    INTEGER,
    revoke_reason TEXT,
    pem           TEXT NOT NULL
  );
  CREATE INDEX certificates_revoked ON certificates(revoked_at);
  CREATE INDEX certificates_device ON certificates(device_serial);
  CREATE INDEX certificates_api_key ON certificates(api_key_id);
  CREATE TABLE devices (
    serial       TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    api_key_id   TEXT REFERENCES api_keys(id),
    cert_serial  TEXT,
    enrolled_at  INTEGER NOT NULL,
    removed_at   INTEGER,
    last_seen_at INTEGER,
    online       INTEGER NOT NULL DEFAULT 0,
    last_status  TEXT,
    last_stats   TEXT,
    manifest     TEXT
  );
  CREATE INDEX devices_user ON devices(user_id);
  CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ts            INTEGER NOT NULL,
    user_id       INTEGER,
    actor         TEXT NOT NULL,             -- who: 'user:alice', 'device:<serial>', 'cli'
    device_serial TEXT,
    action        TEXT NOT NULL,             -- 'cmd.req', 'cmd.res', 'gpio.set', 'enroll', 'revoke', …
    detail        TEXT NOT NULL              -- JSON
  );
  CREATE INDEX audit_device ON audit_log(device_serial, ts);
  `,
  // 2: when a certificate was first presented, so that the first use of a renewal retires its
  // predecessor (README.md, "Certificate renewal"). Existing renewals count as unused until their next connection.
  `
  ALTER TABLE certificates ADD COLUMN first_used_at INTEGER;
  CREATE INDEX certificates_renewed_by ON certificates(renewed_by);
  `,
  // 3: a device is (user, serial): two users may each have a Pi with the same serial, and nobody can
  // block or probe another's (docs/ARCHITECTURE.md, "Identity and trust"). API keys get scopes and
  // limits; the keys made before keep what they could do (enroll and read).
  `
  CREATE TABLE devices_v3 (
    user_id      INTEGER NOT NULL REFERENCES users(id),
    serial       TEXT NOT NULL,
    api_key_id   TEXT REFERENCES api_keys(id),
    cert_serial  TEXT,
    enrolled_at  INTEGER NOT NULL,
    removed_at   INTEGER,
    last_seen_at INTEGER,
    online       INTEGER NOT NULL DEFAULT 0,
    last_status  TEXT,
    last_stats   TEXT,
    manifest     TEXT,
    PRIMARY KEY (user_id, serial)
  );
  INSERT INTO devices_v3 (user_id, serial, api_key_id, cert_serial, enrolled_at, removed_at, last_seen_at, online, last_status, last_stats, manifest)
    SELECT user_id, serial, api_key_id, cert_serial, enrolled_at, removed_at, last_seen_at, online, last_status, last_stats, manifest FROM devices;
  DROP TABLE devices;
  ALTER TABLE devices_v3 RENAME TO devices;
  DROP INDEX certificates_device;
  CREATE INDEX certificates_device ON certificates(user_id, device_serial);
  ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'enroll,read';
  ALTER TABLE api_keys ADD COLUMN uses_left INTEGER;
  ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
  `,
  // 4: the dashboard: browser sessions (the token kept as its SHA-256 only), stats history (a point a
  // minute for 7 days, a point an hour for 90), and when a Pi last sent stats (apart from any message).
  `
  CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    address      TEXT,
    user_agent   TEXT
  );
  CREATE INDEX sessions_user ON sessions(user_id);
  CREATE TABLE stats_history (
    user_id    INTEGER NOT NULL,
    serial     TEXT NOT NULL,
    resolution INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    load       REAL,
    temp_c     REAL,
    mem_used   REAL,
    mem_total  REAL,
    disk_used  REAL,
    disk_size  REAL,
    PRIMARY KEY (user_id, serial, resolution, ts)
  ) WITHOUT ROWID;
  CREATE INDEX stats_history_age ON stats_history(resolution, ts);
  ALTER TABLE devices ADD COLUMN last_data_at INTEGER;
  ALTER TABLE users ADD COLUMN removed_at INTEGER;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Opens (creating it 0600) a database and brings it to its schema: hub.db's by default, or `migrations`. */
export function openDb(file: string, { readonly = false, migrations = MIGRATIONS }: { readonly?: boolean; migrations?: readonly string[] } = {}): Db {
  if (!readonly) keepPrivate(file);
  const db = new Database(file, { readonly, fileMustExist: readonly });
  db.pragma('busy_timeout = 5000');
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.pragma('foreign_keys = ON');
  if (!readonly) migrate(db, migrations);
  return db;
}

/**
 * hub.db holds argon2 hashes and the audit log: 0600, whatever the umask. SQLite gives the -wal and
 * -shm files the database file's mode, so it is created 0600 before SQLite opens it; an older,
 * wider file is narrowed.
 */
function keepPrivate(file: string): void {
  try {
    closeSync(openSync(file, 'wx', 0o600)); // an empty file is an empty database to SQLite
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

export function migrate(db: Db, migrations: readonly string[] = MIGRATIONS): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`the database is at schema version ${current}, newer than this pi-hub (${migrations.length}); upgrade pi-hub`);
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

/**
 * Prepares each SQL text once per connection: preparing costs several times what running a simple
 * statement does, and some run on every MQTT connection.
 */
export function statementCache(db: Db): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let s = cache.get(sql);
    if (!s) cache.set(sql, (s = db.prepare(sql)));
    return s;
  };
}

/** Changes whenever another connection (the CLI) commits: a cheap poll for "something changed". */
export function dataVersion(db: Db): number {
  return db.pragma('data_version', { simple: true }) as number;
}
