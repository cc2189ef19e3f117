// mqtt.db: what the broker keeps across restarts (docs/ARCHITECTURE.md, "Files on disk"). Its own file,
// apart from hub.db: it is written on every QoS 1 message, and in hub.db those commits would move the
// revocation feed's PRAGMA data_version and wait on the CLI's write locks. Versioned like hub.db
// (PRAGMA user_version, each migration once, in a transaction).

export const MQTT_MIGRATIONS: readonly string[] = [
  // 1: retained messages, subscriptions, queues, QoS 2 state, wills, and when a session was last used
  `
  CREATE TABLE retained (
    topic   TEXT PRIMARY KEY,
    meta    TEXT NOT NULL,            -- the packet's fields but the payload, JSON (packet-codec.ts)
    kind    INTEGER NOT NULL,
    payload BLOB
  );
  CREATE TABLE subscriptions (
    client_id TEXT NOT NULL,
    topic     TEXT NOT NULL,
    qos       INTEGER NOT NULL,
    options   TEXT NOT NULL,          -- {rh, rap, nl, subscriptionIdentifier}, JSON
    PRIMARY KEY (client_id, topic)
  ) WITHOUT ROWID;
  CREATE TABLE outgoing (
    id             INTEGER PRIMARY KEY, -- the queue's order
    client_id      TEXT NOT NULL,
    broker_id      TEXT,
    broker_counter INTEGER,
    message_id     INTEGER,
    bytes          INTEGER NOT NULL,
    meta           TEXT NOT NULL,
    kind           INTEGER NOT NULL,
    payload        BLOB
  );
  CREATE INDEX outgoing_client ON outgoing(client_id, broker_id, broker_counter);
  CREATE INDEX outgoing_message ON outgoing(client_id, message_id);
  CREATE TABLE incoming (
    client_id  TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    meta       TEXT NOT NULL,
    kind       INTEGER NOT NULL,
    payload    BLOB,
    PRIMARY KEY (client_id, message_id)
  );
  CREATE TABLE wills (
    client_id TEXT PRIMARY KEY,
    broker_id TEXT,
    meta      TEXT NOT NULL,
    kind      INTEGER NOT NULL,
    payload   BLOB
  );
  CREATE TABLE sessions (
    client_id TEXT PRIMARY KEY,
    last_seen INTEGER NOT NULL,       -- ms since the epoch: the last connect or disconnect
    connected INTEGER NOT NULL        -- 1 while a connection held it (at a crash: until the crash)
  );
  `,
];
