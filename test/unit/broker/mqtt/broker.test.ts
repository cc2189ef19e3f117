// HubBroker in this process, on mqtt.db, with mqtt.js clients over loopback TCP: a Pi that resumes its
// persistent session (as pi-agent does when it switches to a renewed certificate) while a request for it
// is being published. aedes restores the session's subscriptions before it writes CONNACK, and mqtt.db's
// commit of the will leaves event-loop turns in between: a request routed then was written before
// CONNACK, mqtt.js stalled on it (its PUBACK waits for a connection that the unread CONNACK never
// brings), and the Pi's result never reached its user (docs/INTERNALS.md, "Queues").
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { AuditWriter } from '../../../../broker/audit-writer.js';
import { DeviceTracker } from '../../../../broker/device-tracker.js';
import { HubBroker } from '../../../../broker/mqtt/broker.js';
import type { Identity } from '../../../../broker/mqtt/identity.js';
import { SessionRegistry } from '../../../../broker/mqtt/sessions.js';
import { SqlitePersistence } from '../../../../broker/mqtt/sqlite-persistence.js';
import { SqliteStore } from '../../../../broker/store/sqlite-store.js';
import { createLogger } from '../../../../shared/log.js';
import { sleep, waitFor, withTimeout } from '../../../helpers/process.js';

const SERIAL = 'pi-resume';
const DAY = 86_400_000;

let dir: string;
let store: SqliteStore;
let mqttDb: SqlitePersistence;
let hub: HubBroker;
let server: Server;
let userId: string;
/** Runs once, inside the next delWill: aedes calls it between restoring subscriptions and CONNACK. */
let duringConnect: (() => Promise<void>) | null = null;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pifleet-broker-'));
  store = SqliteStore.open(join(dir, 'hub.db'));
  userId = store.users.add('alice', null, false).id;
  mqttDb = SqlitePersistence.open(join(dir, 'mqtt.db'));
  const delWill = mqttDb.delWill.bind(mqttDb);
  mqttDb.delWill = async (client) => {
    const during = duringConnect;
    duringConnect = null;
    if (during) await during();
    return delWill(client);
  };
  const log = createLogger('test', { write: () => true });
  hub = new HubBroker({
    sessions: new SessionRegistry(store, log),
    tracker: new DeviceTracker(store, log),
    audit: new AuditWriter(store, log, { maxAgeMs: DAY, maxRows: 1000 }),
    log,
    limits: { queue: { maxMessages: 100, maxBytes: 1 << 20 }, sessions: { maxPerUser: 8, expiryMs: DAY } },
    persistence: mqttDb,
  });
  await hub.start();
  const device: Identity = { kind: 'device', userId, serial: SERIAL, via: 'certificate', certSerial: null, sessionId: null, notAfter: null, label: SERIAL };
  server = createServer((socket) => hub.handle(socket, null, { ok: true, identity: device }, `127.0.0.1:${socket.remotePort}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await hub?.stop();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The Pi's connection with a persistent session, as pi-agent makes it; `received` lists the packets in order. */
function connectPi(): { client: MqttClient; received: string[] } {
  const client = mqtt.connect(`mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    clientId: SERIAL, clean: false, reconnectPeriod: 0, connectTimeout: 5_000, protocolVersion: 4,
  });
  const received: string[] = [];
  client.on('packetreceive', (p) => received.push(p.cmd));
  return { client, received };
}

const connected = (c: MqttClient, received: string[]) => withTimeout(new Promise<void>((resolve, reject) => {
  c.once('connect', () => resolve());
  c.once('error', reject);
}), 3_000, 'CONNACK to be handled').catch((err: Error) => {
  throw new Error(`${err.message}; packets received: ${received.join(', ') || 'none'}`);
});

describe('a Pi resuming its persistent session on mqtt.db', () => {
  it('gets CONNACK first, then the request published while it connected, once, from its queue', async () => {
    const first = connectPi();
    await connected(first.client, first.received);
    await first.client.subscribeAsync(`devices/${SERIAL}/cmd/req`, { qos: 1 });
    await first.client.endAsync();

    // The switch: a new connection, same client id, and a request routed while aedes sets it up.
    duringConnect = () => new Promise<void>((resolve) => hub.instance.publish({
      cmd: 'publish', topic: `u/${userId}/devices/${SERIAL}/cmd/req`, payload: Buffer.from('{"id":"r1"}'), qos: 1, retain: false, dup: false,
    }, () => resolve()));
    const second = connectPi();
    const messages: string[] = [];
    second.client.on('message', (topic, payload) => messages.push(`${topic} ${payload.toString()}`));
    try {
      await connected(second.client, second.received);
      assert.equal(duringConnect, null, 'the request was published while the Pi connected');
      assert.equal(second.received[0], 'connack', `[MQTT-3.2.0-1] CONNACK first; received: ${second.received.join(', ')}`);
      await waitFor(() => messages.length > 0, 3_000, 'the request');
      // Still answering: a SUBSCRIBE is acknowledged (pi-agent subscribes again on every connect).
      const granted = await withTimeout(second.client.subscribeAsync(`devices/${SERIAL}/cmd/req`, { qos: 1 }), 3_000, 'SUBACK');
      assert.equal(granted[0]?.qos, 1);
      await sleep(100);
      assert.deepEqual(messages, [`devices/${SERIAL}/cmd/req {"id":"r1"}`], 'the request, once');
      // Acknowledged by the Pi (mqtt.js sends PUBACK at once): nothing is left queued for it.
      await waitFor(() => mqttDb.storedQueues().length === 0, 3_000, 'an empty queue');
    } finally {
      await second.client.endAsync(true);
    }
  });
});
