// BoundedPersistence over aedes-persistence's real in-memory store: it passes the suite aedes-persistence
// ships for every persistence (unchanged, with bounds no test reaches), stores a SUBSCRIBE's granted
// subscriptions once, bounds each session's queue, keeps a message whose live delivery aedes gives up,
// and drops a whole session.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, test } from 'node:test';
import { BoundedPersistence, type DropReason } from '../../../../broker/mqtt/bounded-persistence.js';
import { type AsyncPersistence, type StoredPacket, type StoredSubscription, memoryPersistence } from '../../../../broker/mqtt/persistence.js';
import { SqlitePersistence } from '../../../../broker/mqtt/sqlite-persistence.js';

const require = createRequire(import.meta.url);
const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'pifleet-bounded-')); dirs.push(d); return d; };
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const abstractSuite = require('aedes-persistence/abstract.js') as (o: { test: typeof test; persistence: () => unknown; testAsync: boolean }) => void;

describe("aedes-persistence's abstract suite, through BoundedPersistence", () => {
  abstractSuite({
    test,
    persistence: () => new BoundedPersistence(memoryPersistence(), {
      maxMessages: 1_000_000, maxBytes: 1 << 30, granted: () => true, onDrop: () => assert.fail('nothing is dropped within these bounds'),
    }),
    testAsync: true,
  });
});

/** The real memory store, counting what reaches it. */
function counting(): { store: AsyncPersistence; added: string[]; calls: number } {
  const store = memoryPersistence();
  const seen = { store, added: [] as string[], calls: 0 };
  const add = store.addSubscriptions.bind(store);
  store.addSubscriptions = (client, subs) => {
    seen.calls++;
    seen.added.push(...subs.map((s) => s.topic));
    return add(client, subs);
  };
  return seen;
}

const packet = (topic: string, bytes = 10): StoredPacket => ({
  cmd: 'publish', topic, payload: Buffer.alloc(bytes, 120), qos: 1, retain: false, brokerId: 'b', brokerCounter: Math.floor(Math.random() * 1e9),
});

describe('BoundedPersistence', () => {
  it("stores a SUBSCRIBE's subscriptions once, and only the granted ones, however often aedes hands over the list", async () => {
    const c = counting();
    const granted = new WeakSet<object>();
    const p = new BoundedPersistence(c.store, { maxMessages: 10, maxBytes: 1000, granted: (s) => granted.has(s), onDrop: () => {} });
    const subs: StoredSubscription[] = Array.from({ length: 500 }, (_, i) => ({ topic: `u/1/devices/d${i}/status`, qos: 1 }));
    // aedes 1.2 authorizes each filter, then calls addSubscriptions(client, packet.subscriptions) for it
    for (const [i, s] of subs.entries()) {
      if (i % 2 === 0) granted.add(s);
      await p.addSubscriptions({ id: 'u/1/c' }, subs);
    }
    assert.equal(c.added.length, 250, 'each granted subscription reached the store once');
    assert.deepEqual(new Set(c.added), new Set(subs.filter((_, i) => i % 2 === 0).map((s) => s.topic)));
    assert.ok(c.calls <= 250);
    const stored = await p.subscriptionsByClient({ id: 'u/1/c' });
    assert.equal(stored.length, 250);
    // the same objects for another session are that session's
    await p.addSubscriptions({ id: 'u/1/other' }, subs);
    assert.equal((await p.subscriptionsByClient({ id: 'u/1/other' })).length, 250);
  });

  it('bounds each session\'s queue by count and bytes, reports what it drops, and makes room as messages are acknowledged', async () => {
    const drops: Array<[string, string, DropReason]> = [];
    const p = new BoundedPersistence(memoryPersistence(), { maxMessages: 3, maxBytes: 100, granted: () => true, onDrop: (id, pk, why) => drops.push([id, pk.topic, why]) });
    const sub = [{ clientId: 'a' }, { clientId: 'b' }];
    for (let i = 0; i < 5; i++) await p.outgoingEnqueueCombi(sub, packet(`t/${i}`));
    assert.deepEqual(p.queued('a'), { messages: 3, bytes: 30 });
    assert.deepEqual(drops, [['a', 't/3', 'queue-full'], ['b', 't/3', 'queue-full'], ['a', 't/4', 'queue-full'], ['b', 't/4', 'queue-full']]);
    // a message is sent (gets an id) and acknowledged: one place frees up
    const [first] = await streamed(p, 'a');
    await p.outgoingUpdate({ id: 'a' }, { ...first!, messageId: 7 });
    assert.ok(await p.outgoingClearMessageId({ id: 'a' }, { messageId: 7 }));
    assert.deepEqual(p.queued('a'), { messages: 2, bytes: 20 });
    await p.outgoingEnqueue({ clientId: 'a' }, packet('t/5'));
    assert.equal(p.queued('a').messages, 3);
    // bytes: one message that would pass the byte bound is dropped even with room in count
    await p.outgoingEnqueue({ clientId: 'c' }, packet('big', 101));
    assert.deepEqual(drops.at(-1), ['c', 'big', 'queue-full']);
  });

  for (const [name, store] of [['memory', () => memoryPersistence()], ['SQLite', () => SqlitePersistence.open(join(tmp(), 'mqtt.db'))]] as const) {
    it(`keeps a message whose live delivery aedes gives up (a clear with no message id), on the ${name} store`, async () => {
      const p = new BoundedPersistence(store(), { maxMessages: 10, maxBytes: 1000, granted: () => true, onDrop: () => assert.fail('nothing dropped') });
      await p.setup({ id: 'b' });
      const older = packet('q/older');
      const refused = packet('q/refused');
      await p.outgoingEnqueueCombi([{ clientId: 'd' }], older);
      await p.outgoingEnqueueCombi([{ clientId: 'd' }], refused);
      // aedes 1.2 (deliverQoS), when authorizeForward refuses a live delivery to a persistent session,
      // clears with the live packet, which has no message id: the stores would remove `older`.
      assert.equal(await p.outgoingClearMessageId({ id: 'd' }, { ...refused, messageId: undefined }), undefined);
      assert.deepEqual((await streamed(p, 'd')).map((x) => x.topic), ['q/older', 'q/refused']);
      assert.deepEqual(p.queued('d'), { messages: 2, bytes: 20 });
      await p.destroy();
    });
  }

  it('drops a whole session: subscriptions, every queued message (each reported), will', async () => {
    const drops: Array<[string, DropReason]> = [];
    const p = new BoundedPersistence(memoryPersistence(), { maxMessages: 10, maxBytes: 1000, granted: () => true, onDrop: (_id, pk, why) => drops.push([pk.topic, why]) });
    await p.setup({ id: 'b' }); // the store tags wills with the broker's id
    await p.addSubscriptions({ id: 'd' }, [{ topic: 'x/#', qos: 1 }]);
    await p.outgoingEnqueueCombi([{ clientId: 'd' }], packet('q/1'));
    await p.outgoingEnqueueCombi([{ clientId: 'd' }], packet('q/2'));
    const [sent] = await streamed(p, 'd');
    await p.outgoingUpdate({ id: 'd' }, { ...sent!, messageId: 3 }); // one was in flight when it left
    await p.putWill({ id: 'd' }, packet('will'));
    assert.equal(await p.dropSession('d'), 2);
    assert.deepEqual(drops.sort(), [['q/1', 'expired'], ['q/2', 'expired']]);
    assert.deepEqual(await p.subscriptionsByClient({ id: 'd' }), []);
    assert.deepEqual(await streamed(p, 'd'), []);
    assert.equal(await p.getWill({ id: 'd' }), undefined);
    assert.deepEqual(p.queued('d'), { messages: 0, bytes: 0 });
    assert.deepEqual(await p.subscriptionsByTopic('x/y'), []);
  });
});

async function streamed(p: BoundedPersistence, id: string): Promise<StoredPacket[]> {
  const out: StoredPacket[] = [];
  for await (const x of p.outgoingStream({ id })) out.push(x as StoredPacket);
  return out;
}
