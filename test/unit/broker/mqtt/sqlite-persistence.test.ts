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

const broker = (id: string) => ({ id, counter: 0 });
const packet = (topic: string, payload = 'x', extra: Partial<StoredPacket> = {}): StoredPacket => ({
  cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, brokerId: 'run-1', brokerCounter: ++n, ...extra,
});
async function all<T>(s: AsyncIterable<unknown>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of s) out.push(x as T);
  return out;
}

describe('SqlitePersistence across a restart', () => {
  it('holds everything again when the file is opened anew: subscriptions, retained messages, the queue in order, QoS 2 state, wills, sessions', async () => {
    const file = freshFile();
    const a = SqlitePersistence.open(file);
    await a.setup(broker('run-1'));
    await a.addSubscriptions({ id: 'd/1/pi' }, [{ topic: 'u/1/devices/pi/cmd/req', qos: 1 }, { topic: 'u/1/devices/pi/gpio/+/set', qos: 1 }]);
    await a.addSubscriptions({ id: 'u/1/dash' }, [{ topic: 'u/1/devices/#', qos: 0 }]);
    await a.storeRetained(packet('u/1/devices/pi/status', '{"v":1,"online":true,"ts":1}', { retain: true }));
    await a.storeRetained(packet('u/1/devices/pi/manifest', 'M', { retain: true }));
    await a.storeRetained(packet('u/2/devices/other/status', 'O', { retain: true }));
    const sent = packet('u/1/devices/pi/cmd/req', 'first');
    await a.outgoingEnqueueCombi([{ clientId: 'd/1/pi' }], sent);
    await a.outgoingEnqueueCombi([{ clientId: 'd/1/pi' }], packet('u/1/devices/pi/cmd/req', 'second'));
    await a.outgoingUpdate({ id: 'd/1/pi' }, { ...sent, messageId: 7 }); // sent, not yet acknowledged
    await a.incomingStorePacket({ id: 'd/1/pi' }, { ...packet('u/1/devices/pi/status', 'q2'), qos: 2, messageId: 9 });
    await a.putWill({ id: 'd/1/pi' }, { cmd: 'publish', topic: 'u/1/devices/pi/status', payload: Buffer.from('{"v":1,"online":false,"ts":2}'), qos: 1, retain: true });
    a.sessionSeen('d/1/pi', 1234, true);
    await a.destroy();

    const b = SqlitePersistence.open(file);
    await b.setup(broker('run-2'));
    assert.deepEqual((await b.subscriptionsByTopic('u/1/devices/pi/gpio/17/set')).map((s) => s.clientId), ['d/1/pi']);
    assert.deepEqual((await b.subscriptionsByClient({ id: 'u/1/dash' })).map((s) => [s.topic, s.qos]), [['u/1/devices/#', 0]]);
    assert.deepEqual(await b.countOffline(), { subsCount: 2, clientsCount: 2 });
    const retained = await all<StoredPacket>(b.createRetainedStream('u/1/devices/#'));
    assert.deepEqual(retained.map((p) => [p.topic, Buffer.from(p.payload).toString()]).sort(),
      [['u/1/devices/pi/manifest', 'M'], ['u/1/devices/pi/status', '{"v":1,"online":true,"ts":1}']]);
    const queue = await all<StoredPacket>(b.outgoingStream({ id: 'd/1/pi' }));
    assert.deepEqual(queue.map((p) => [Buffer.from(p.payload).toString(), p.messageId, p.brokerId]), [['first', 7, 'run-1'], ['second', undefined, 'run-1']]);
    assert.equal(Buffer.from((await b.incomingGetPacket({ id: 'd/1/pi' }, { messageId: 9 })).payload).toString(), 'q2');
    const wills = await all<StoredPacket>(b.streamWill({ 'run-2': Date.now() }));
    assert.deepEqual(wills.map((w) => [w.clientId, w.brokerId, w.topic]), [['d/1/pi', 'run-1', 'u/1/devices/pi/status']], "the earlier run's will counts as a dead broker's");
    assert.deepEqual(b.storedSessions().sort((x, y) => x.clientId.localeCompare(y.clientId)), [
      { clientId: 'd/1/pi', lastSeen: 1234, connected: true },
      { clientId: 'u/1/dash', lastSeen: null, connected: false },
    ]);
    assert.deepEqual(b.storedQueues(), [{ clientId: 'd/1/pi', messages: 2, bytes: 'first'.length + 'second'.length }]);
    // acknowledging the message sent before the restart removes it
    assert.equal(Buffer.from((await b.outgoingClearMessageId({ id: 'd/1/pi' }, { messageId: 7 }))!.payload).toString(), 'first');
    await b.destroy();
  });

  it('resolves a write aedes acknowledges only once it is committed: another connection sees it then, not before', async () => {
    const file = freshFile();
    const p = SqlitePersistence.open(file);
    await p.setup(broker('run-1'));
    const Database = require('better-sqlite3') as typeof import('better-sqlite3');
    const other = new Database(file, { readonly: true });
    const count = () => (other.prepare('SELECT count(*) AS n FROM outgoing').get() as { n: number }).n;
    const queued = p.outgoingEnqueueCombi([{ clientId: 'a' }, { clientId: 'b' }], packet('t/1'));
    const alsoQueued = p.outgoingEnqueue({ clientId: 'a' }, packet('t/2'));
    assert.equal(count(), 0, 'one transaction for the turn, not yet committed');
    await Promise.all([queued, alsoQueued]);
    assert.equal(count(), 3, 'committed together when the promises resolve');
    other.close();
    await p.destroy();
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('BoundedPersistence counts the queues the store kept: the bound holds across a restart', async () => {
    const file = freshFile();
    const drops: string[] = [];
    const opts = { maxMessages: 2, maxBytes: 1000, granted: () => true, onDrop: (id: string, pk: StoredPacket) => drops.push(`${id} ${pk.topic}`) };
    const a = new BoundedPersistence(SqlitePersistence.open(file), opts);
    await a.setup(broker('run-1'));
    await a.outgoingEnqueueCombi([{ clientId: 'd/1/pi' }], packet('q/1'));
    await a.outgoingEnqueueCombi([{ clientId: 'd/1/pi' }], packet('q/2'));
    await a.destroy();
    const b = new BoundedPersistence(SqlitePersistence.open(file), opts);
    await b.setup(broker('run-2'));
    assert.deepEqual(b.queued('d/1/pi'), { messages: 2, bytes: 2 });
    await b.outgoingEnqueueCombi([{ clientId: 'd/1/pi' }], packet('q/3'));
    assert.deepEqual(drops, ['d/1/pi q/3']);
    // dropping the session forgets it in the store too
    b.ledger!.sessionSeen('d/1/pi', 1, false);
    assert.equal(await b.dropSession('d/1/pi'), 2);
    assert.deepEqual(b.ledger!.storedSessions(), []);
    assert.deepEqual(b.ledger!.storedQueues(), []);
    await b.destroy();
  });
});
