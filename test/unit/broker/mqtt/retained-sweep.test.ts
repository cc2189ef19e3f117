// pruneRetained over aedes-persistence's own in-memory store: only the retained messages of Pis that
// are not enrolled go, and only under the pattern asked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryPersistence, type StoredPacket } from '../../../../broker/mqtt/persistence.js';
import { deviceTopics, pruneRetained } from '../../../../broker/mqtt/retained-sweep.js';

const retained = (topic: string): StoredPacket => ({ cmd: 'publish', topic, payload: Buffer.from('{"v":1}'), qos: 1, retain: true });

async function topicsOf(p: ReturnType<typeof memoryPersistence>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of p.createRetainedStream('#')) out.push((x as StoredPacket).topic);
  return out.sort();
}

describe('pruneRetained', () => {
  it('deletes the retained messages of Pis that are not enrolled, under the pattern only', async () => {
    const p = memoryPersistence();
    for (const t of ['u/1/devices/keep/status', 'u/1/devices/gone/status', 'u/1/devices/gone/gpio/17/state', 'u/2/devices/other/status', 'u/2/devices/keep/manifest']) {
      await p.storeRetained(retained(t));
    }
    const enrolled = (user: string, serial: string) => `${user}/${serial}` === '1/keep';
    assert.equal(await pruneRetained(p, enrolled, deviceTopics('1', 'gone')), 2);
    assert.deepEqual(await topicsOf(p), ['u/1/devices/keep/status', 'u/2/devices/keep/manifest', 'u/2/devices/other/status']);
    assert.equal(await pruneRetained(p, enrolled), 2, 'the sweep: user 2 has no enrolled Pi here');
    assert.deepEqual(await topicsOf(p), ['u/1/devices/keep/status']);
    assert.equal(await pruneRetained(p, enrolled), 0);
  });
});
