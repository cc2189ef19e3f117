// The parts' lifecycle: started in order, stopped in reverse; a failed start stops what had started; a
// failed stop does not keep the others from stopping; SIGHUP names the settings no part applies.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AgentConfigSchema } from '../../../agent/config.js';
import { type Part, restartNeeded, startParts, stopParts } from '../../../agent/part.js';
import { createLogger } from '../../../shared/log.js';

function recorder() {
  const events: string[] = [];
  const lines: string[] = [];
  const log = createLogger('test', { write: (l: string) => lines.push(l) });
  const part = (name: string, o: { failStart?: boolean; failStop?: boolean } = {}): Part => ({
    name,
    async start() {
      await new Promise((r) => setImmediate(r));
      if (o.failStart) throw new Error(`${name} cannot start`);
      events.push(`start ${name}`);
    },
    stop() {
      if (o.failStop) throw new Error(`${name} cannot stop`);
      events.push(`stop ${name}`);
    },
  });
  return { events, lines, log, part };
}

describe('parts', () => {
  test('start in order, stop in reverse, each awaited', async () => {
    const r = recorder();
    const parts = [r.part('a'), r.part('b'), r.part('c')];
    await startParts(parts, r.log);
    await stopParts(parts, r.log);
    assert.deepEqual(r.events, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  test('a part that fails to start: those started stop in reverse, the error propagates, the rest never start', async () => {
    const r = recorder();
    await assert.rejects(startParts([r.part('a'), r.part('b'), r.part('c', { failStart: true }), r.part('d')], r.log), /c cannot start/);
    assert.deepEqual(r.events, ['start a', 'start b', 'stop b', 'stop a']);
  });

  test('a part that fails to stop is logged and the others still stop', async () => {
    const r = recorder();
    await stopParts([r.part('a'), r.part('b', { failStop: true }), r.part('c')], r.log);
    assert.deepEqual(r.events, ['stop c', 'stop a']);
    assert.equal(r.lines.length, 1);
    assert.match(r.lines[0]!, / error +test: b did not stop cleanly error="b cannot stop"\n$/);
  });

  test('restartNeeded: the changed settings that no part reloads', () => {
    const base = AgentConfigSchema.parse({ hub: 'https://hub:8443', serial: 'pi-1', trustDomain: 't', userId: '1' });
    const stats: Part = { name: 'stats', reloadable: ['statsIntervalSec'], start() {}, stop() {} };
    const next = { ...base, statsIntervalSec: 1, maxConcurrent: 3, defaultUser: 'nobody' };
    assert.deepEqual(restartNeeded([stats], base, next), ['defaultUser', 'maxConcurrent']);
    assert.deepEqual(restartNeeded([], base, next), ['statsIntervalSec', 'defaultUser', 'maxConcurrent']);
    assert.deepEqual(restartNeeded([stats], base, base), []);
  });
});
