// The GPIO service in-process with the sim driver: what it publishes for sets, refusals, inputs and
// the safe states, with short times (holdSec, fail-safe, debounce) so each rule is checked exactly.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { GpioService } from '../../../../agent/gpio/service.js';
import { SimDriver } from '../../../../agent/gpio/sim.js';
import { SoftPwm } from '../../../../agent/gpio/soft-pwm.js';
import { type LoadedPin, loadedPin } from '../../../../agent/modules/schema.js';
import { createLogger } from '../../../../shared/log.js';
import type { GpioState } from '../../../../shared/schemas.js';
import { sleep, waitFor } from '../../../helpers/process.js';

type Sent = { bcm: number; state: GpioState; retain: boolean };
const RELAY = loadedPin('gpio', 17, { name: 'Relay', modes: ['out'], initial: 0, safe: 0, failSafe: true });
const FAN = loadedPin('gpio', 18, { name: 'Fan', modes: ['pwm', 'out'], pwm: { freqHz: [25, 20000] }, safe: 0, holdSec: 0.2 });
const BUTTON = loadedPin('gpio', 27, { name: 'Button', modes: ['in'], pull: 'up', debounceMs: 20 });

let open: GpioService[] = [];
afterEach(async () => { for (const s of open) await s.stop(); open = []; });

function make(pins: LoadedPin[], o: { failSafeSec?: number; driver?: SimDriver | null } = {}) {
  const sent: Sent[] = [];
  const driver = o.driver === undefined ? new SimDriver(null) : o.driver;
  const lines: string[] = [];
  const service = new GpioService({
    driver, softPwm: driver ? new SoftPwm(driver.pwmSink, () => {}) : null, unavailable: 'no chip',
    log: createLogger('test', { write: (l: string) => lines.push(l) }), failSafeSec: o.failSafeSec ?? 60,
    publish: (bcm, state, retain) => { sent.push({ bcm, state, retain }); },
  });
  open.push(service);
  const set = (bcm: number, body: Record<string, unknown>) => service.handleSet(bcm, Buffer.from(JSON.stringify({ v: 1, ...body })));
  const brief = (from = 0) => sent.slice(from).map(({ bcm, state, retain }) => {
    const s = state as Record<string, unknown>;
    return [bcm, retain, s.error ? (s.error as { code: string }).code : s.cause, s.mode ?? null, s.value ?? null];
  });
  return { service, sent, driver, set, brief, lines, start: () => service.start(pins) };
}

describe('GpioService (sim driver)', () => {
  test('start: outputs at initial, inputs read, each published retained with cause initial', async () => {
    const g = make([RELAY, FAN, BUTTON]);
    await g.start();
    assert.deepEqual(g.brief(), [[17, true, 'initial', 'out', 0], [18, true, 'initial', 'out', 0], [27, true, 'initial', 'in', 1]]);
    assert.deepEqual(g.driver!.writes, [{ bcm: 17, level: 0 }, { bcm: 18, level: 0 }]);
    assert.deepEqual(g.service.manifest().map((p) => p.pwm ?? null), [null, { minHz: 25, maxHz: 1000 }, null]);
  });

  test('sets and refusals: a refusal changes nothing and is not retained', async () => {
    const g = make([RELAY, FAN, BUTTON]);
    await g.start();
    const from = g.sent.length;
    await g.set(17, { value: 1, by: 'alice', id: 'a' });
    await g.set(17, { pwm: { duty: 0.5, freqHz: 100 }, id: 'b' });
    await g.set(9, { value: 1, id: 'c' });
    await g.set(18, { pwm: { duty: 0.5, freqHz: 2000 }, id: 'd' });
    await g.service.handleSet(17, Buffer.from('{"v":1,"value":3,"id":"e"}'));
    assert.deepEqual(g.brief(from), [
      [17, true, 'set', 'out', 1], [17, false, 'mode_not_allowed', 'out', 1], [9, false, 'unknown_pin', null, null],
      [18, false, 'out_of_range', 'out', 0], [17, false, 'invalid_request', 'out', 1],
    ]);
    assert.deepEqual(g.sent.map((s) => (s.state as { id?: string }).id).slice(from), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(g.driver!.writes.filter((w) => w.bcm === 17).map((w) => w.level), [0, 1], 'only the accepted set drove the pin');
  });

  test('holdSec: back to safe unless renewed', async () => {
    const g = make([FAN]);
    await g.start();
    await g.set(18, { pwm: { duty: 0.5, freqHz: 100 } });
    await sleep(120);
    await g.set(18, { pwm: { duty: 0.5, freqHz: 100 } }); // renewed
    await sleep(120);
    assert.equal(g.brief().filter((b) => b[2] === 'hold-expired').length, 0, 'renewed in time');
    await waitFor(() => g.brief().some((b) => b[2] === 'hold-expired'), 1_000, 'hold expiry');
    assert.deepEqual(g.brief().at(-1), [18, true, 'hold-expired', 'out', 0]);
  });

  test('fail-safe: only failSafe pins, only after the link has been down failSafeSec; the link back in time cancels it', async () => {
    const g = make([RELAY, loadedPin('gpio', 22, { modes: ['out'], safe: 0 })], { failSafeSec: 0.2 });
    await g.start();
    g.service.setLink(true);
    await g.set(17, { value: 1 });
    await g.set(22, { value: 1 });
    g.service.setLink(false);
    await sleep(100);
    g.service.setLink(true); // back in time
    await sleep(200);
    assert.equal(g.brief().filter((b) => b[2] === 'fail-safe').length, 0);
    g.service.setLink(false);
    await waitFor(() => g.brief().some((b) => b[2] === 'fail-safe'), 1_000, 'fail-safe');
    await sleep(100);
    assert.deepEqual(g.brief().filter((b) => b[2] === 'fail-safe'), [[17, true, 'fail-safe', 'out', 0]]);
    assert.ok(g.lines.some((l) => /the hub link has been down for 0\.2 s/.test(l)));
  });

  test('an input: one state per debounced edge, and only the edges it asks for', async () => {
    const g = make([BUTTON, loadedPin('gpio', 5, { modes: ['in'], pull: 'up', edge: 'falling', debounceMs: 10 })]);
    await g.start();
    const from = g.sent.length;
    g.driver!.play(27, [0, 1, 0, 1, 0]);
    g.driver!.play(5, [0, 1, 0, 1, 0]);
    await sleep(80);
    g.driver!.play(27, [1]);
    g.driver!.play(5, [1]);
    await sleep(80);
    assert.deepEqual(g.brief(from), [[5, true, 'input', 'in', 0], [27, true, 'input', 'in', 0], [27, true, 'input', 'in', 1]]);
  });

  test('reload: a removed pin goes safe and is let go; a rewired one starts again; a renamed one keeps its state', async () => {
    const g = make([RELAY, FAN, loadedPin('gpio', 23, { modes: ['out'], initial: 1, safe: 0 })]);
    await g.start();
    await g.set(17, { value: 1 });
    const from = g.sent.length;
    await g.service.apply([{ ...RELAY, name: 'Pump' }, { ...FAN, pwm: { minHz: 50, maxHz: 500 } }]);
    assert.deepEqual(g.brief(from), [[23, true, 'removed', 'out', 0], [18, true, 'initial', 'out', 0]]);
    assert.deepEqual(g.service.manifest().map((p) => [p.bcm, p.name, p.state?.value]), [[17, 'Pump', 1], [18, 'Fan', 0]]);
  });

  test('stop: outputs to safe (cause shutdown), inputs left alone', async () => {
    const g = make([RELAY, BUTTON]);
    await g.start();
    await g.set(17, { value: 1 });
    const from = g.sent.length;
    await g.service.stop();
    open = [];
    assert.deepEqual(g.brief(from), [[17, true, 'shutdown', 'out', 0]]);
  });

  test('no driver: no pins, every set answered gpio_unavailable', async () => {
    const g = make([RELAY], { driver: null });
    await g.start();
    await g.set(17, { value: 1, id: 'x' });
    assert.deepEqual(g.sent.map((s) => s.state), [{ v: 1, ts: (g.sent[0]!.state as { ts: number }).ts, id: 'x', error: { code: 'gpio_unavailable', message: 'no GPIO on this Pi: no chip' } }]);
    assert.deepEqual(g.service.manifest(), []);
  });
});
