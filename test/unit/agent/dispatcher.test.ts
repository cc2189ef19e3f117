// The dispatcher: each kind of incoming topic to the part that declared it, and nothing else; what
// nobody handles, and a handler that fails, are logged, never thrown.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Dispatcher, type TopicHandlers } from '../../../agent/dispatcher.js';
import { createLogger } from '../../../shared/log.js';

function setup(handlers: Record<string, TopicHandlers> = {}) {
  const lines: string[] = [];
  const calls: string[] = [];
  const d = new Dispatcher('pi-1', createLogger('test', { write: (l: string) => lines.push(l) }));
  for (const [owner, h] of Object.entries(handlers)) d.register(owner, h);
  return { d, lines, calls };
}

describe('Dispatcher', () => {
  const rows: Array<[string, string, string | null]> = [
    ['a request of this Pi', 'devices/pi-1/cmd/req', 'cmd-req pi-1 {"x":1}'],
    ['a GPIO request of this Pi', 'devices/pi-1/gpio/17/set', 'gpio-set 17 {"x":1}'],
    ['a request for another Pi', 'devices/pi-2/cmd/req', null],
    ['a kind this Pi only publishes', 'devices/pi-1/status', null],
    ['a GPIO state', 'devices/pi-1/gpio/17/state', null],
    ['not one of our topics', 'elsewhere/pi-1/cmd/req', null],
    ['a wildcard', 'devices/pi-1/cmd/+', null],
  ];
  for (const [name, topic, want] of rows) {
    test(name, () => {
      const calls: string[] = [];
      const { d, lines } = setup({
        commands: { 'cmd-req': (t, p) => { calls.push(`${t.kind} ${t.serial} ${p.toString()}`); } },
        gpio: { 'gpio-set': (t, p) => { calls.push(`${t.kind} ${t.bcm} ${p.toString()}`); } },
      });
      assert.doesNotThrow(() => d.dispatch(topic, Buffer.from('{"x":1}')));
      assert.deepEqual(calls, want === null ? [] : [want]);
      if (want === null) {
        assert.equal(lines.length, 1);
        assert.match(lines[0]!, / warn +test: ignored a message nothing here handles topic=\S+ bytes=7\n$/);
      } else {
        assert.deepEqual(lines, []);
      }
    });
  }

  test('a kind nobody registered is logged at warn once, then at debug only', () => {
    const { d, lines } = setup({ commands: { 'cmd-req': () => {} } });
    d.dispatch('devices/pi-1/gpio/4/set', Buffer.from('{}'));
    d.dispatch('devices/pi-1/gpio/5/set', Buffer.from('{}'));
    d.dispatch('devices/pi-1/gpio/6/set', Buffer.from('{}'));
    assert.equal(lines.length, 1, 'debug is off');
    assert.match(lines[0]!, /ignored a message nothing here handles topic=devices\/pi-1\/gpio\/4\/set/);
    d.dispatch('devices/pi-9/cmd/req', Buffer.from('{}'));
    assert.equal(lines.length, 2, 'another kind of unhandled message is reported once too');
  });

  test('a handler that throws or rejects is logged, and dispatch does not throw', async () => {
    const { d, lines } = setup({
      commands: { 'cmd-req': () => { throw new Error('boom'); } },
      gpio: { 'gpio-set': () => Promise.reject(new Error('later')) },
    });
    assert.doesNotThrow(() => d.dispatch('devices/pi-1/cmd/req', Buffer.from('{}')));
    assert.doesNotThrow(() => d.dispatch('devices/pi-1/gpio/2/set', Buffer.from('{}')));
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, / error +test: handling a message failed topic=devices\/pi-1\/cmd\/req part=commands error=boom\n$/);
    assert.match(lines[1]!, / error +test: handling a message failed topic=devices\/pi-1\/gpio\/2\/set part=gpio error=later\n$/);
  });

  test('a kind handled by two parts is refused when the second registers', () => {
    const { d } = setup({ gpio: { 'gpio-set': () => {} } });
    assert.throws(() => d.register('gpio-service', { 'gpio-set': () => {} }), /gpio-service handles gpio-set messages, which gpio handles already/);
  });

  test('filters: one per kind handled, requests first', () => {
    assert.deepEqual(setup().d.filters(), []);
    assert.deepEqual(setup({ gpio: { 'gpio-set': () => {} } }).d.filters(), ['devices/pi-1/gpio/+/set']);
    assert.deepEqual(setup({ gpio: { 'gpio-set': () => {} }, commands: { 'cmd-req': () => {} } }).d.filters(),
      ['devices/pi-1/cmd/req', 'devices/pi-1/gpio/+/set']);
  });
});
