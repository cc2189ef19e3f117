// GPIO end to end through a real hub, with the sim driver: sets from a user's client change the
// retained state every subscriber sees; refusals change nothing and are answered, not retained; inputs
// are published once per debounced edge; the safe states: hold expiry, fail-safe while the hub is
// away, removal from gpio.json, SIGTERM.
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GpioPinStateSchema, GpioStateSchema, ManifestSchema } from '../../../shared/schemas.js';
import { TestAgent } from '../../helpers/agent.js';
import { TestHub, type UserCredentials } from '../../helpers/hub.js';
import { type Collector, connectCollector, end, granted, publish } from '../../helpers/mqtt.js';
import { sleep, waitFor } from '../../helpers/process.js';

const SERIAL = 'pi-gpio';
const T = (bcm: number) => `devices/${SERIAL}/gpio/${bcm}/state`;
const S = (bcm: number) => `devices/${SERIAL}/gpio/${bcm}/set`;
const PINS = {
  17: { name: 'Relay', modes: ['out'], initial: 0, safe: 0, failSafe: true },
  18: { name: 'Fan', modes: ['pwm', 'out'], pwm: { freqHz: [25, 20000] }, safe: 0, holdSec: 1 },
  23: { name: 'Spare', modes: ['out'], initial: 1, safe: 0 },
  27: { name: 'Button', modes: ['in'], pull: 'up', edge: 'both', debounceMs: 20 },
};
const gpioModule = (pins: Record<string, unknown>) => ({ $schema: './module.schema.json', id: 'gpio', kind: 'gpio', title: 'Pins', pins });

let hub: TestHub;
let agent: TestAgent;
let alice: UserCredentials;
let seen: Collector;

async function watcher(filter = `devices/${SERIAL}/#`): Promise<Collector> {
  const c = await connectCollector(hub, alice, { transport: 'mqtts' });
  assert.deepEqual(await granted(c.client, [filter]), [1]);
  return c;
}
const pinState = (payload: string) => GpioPinStateSchema.parse(JSON.parse(payload));
const statesOf = (c: Collector, bcm: number, from = 0) => c.messages.slice(from).filter((m) => m.topic === T(bcm)).map((m) => GpioStateSchema.parse(JSON.parse(m.payload)));
const lastState = (c: Collector, bcm: number) => pinState(c.on(T(bcm)).at(-1)!.payload);

before(async () => {
  hub = await TestHub.start();
  await hub.addUser('alice');
  alice = await hub.userCert('alice');
  agent = await TestAgent.connect(hub, await hub.apiKey('alice'), SERIAL, {
    config: { statsIntervalSec: 3600, gpioFailSafeSec: 1 },
    modules: { 'gpio.json': gpioModule(PINS) },
  });
  seen = await watcher();
  await agent.start();
  await waitFor(() => seen.on(T(27)).length > 0, 10_000, 'the initial states');
});
after(async () => {
  await end(seen.client);
  await agent.remove();
  await hub.stop();
});

describe('GPIO through the hub (sim driver)', () => {
  test('the manifest offers the pins with their ranges and states; each pin starts at its initial state', async () => {
    const manifest = ManifestSchema.parse(JSON.parse(seen.on(`devices/${SERIAL}/manifest`).at(-1)!.payload));
    assert.deepEqual(manifest.gpio, [
      { bcm: 17, name: 'Relay', modes: ['out'], failSafe: true, state: { mode: 'out', value: 0 } },
      // software PWM: the declared 25–20000 Hz narrowed to what it makes
      { bcm: 18, name: 'Fan', modes: ['pwm', 'out'], pwm: { minHz: 25, maxHz: 1000 }, holdSec: 1, state: { mode: 'out', value: 0 } },
      { bcm: 23, name: 'Spare', modes: ['out'], state: { mode: 'out', value: 1 } },
      { bcm: 27, name: 'Button', modes: ['in'], state: { mode: 'in', value: 1 } },
    ]);
    const s = lastState(seen, 23);
    assert.deepEqual({ ...s, ts: 0 }, { v: 1, mode: 'out', value: 1, ts: 0, cause: 'initial' });
  });

  test('a set from one client changes the state; a later subscriber gets it retained', async () => {
    const from = seen.messages.length;
    await publish(seen.client, S(17), { v: 1, value: 1, id: 'set-1', by: 'mallory' });
    const m = await seen.next(T(17), 5_000, from);
    const s = pinState(m.payload);
    assert.deepEqual({ ...s, ts: 0 }, { v: 1, mode: 'out', value: 1, ts: 0, cause: 'set', by: 'alice', id: 'set-1' }, 'by is stamped by the hub');
    const late = await watcher(T(17));
    const r = await late.next(T(17));
    assert.equal(r.retain, true);
    assert.deepEqual(pinState(r.payload), s);
    await end(late.client);
  });

  test('refusals: an unlisted pin, a mode not allowed, a frequency out of range are answered, not retained, and change nothing', async () => {
    const from = seen.messages.length;
    await publish(seen.client, S(5), { v: 1, value: 1, id: 'r-unknown' });
    await publish(seen.client, S(17), { v: 1, pwm: { duty: 0.5, freqHz: 100 }, id: 'r-mode' });
    await publish(seen.client, S(27), { v: 1, value: 0, id: 'r-input' });
    await publish(seen.client, S(18), { v: 1, pwm: { duty: 0.5, freqHz: 5000 }, id: 'r-freq' });
    await publish(seen.client, S(18), { v: 1, pwm: { duty: 1.5, freqHz: 100 }, id: 'r-duty' }); // the hub's schema drops it
    await waitFor(() => seen.messages.slice(from).filter((m) => m.topic.endsWith('/state')).length >= 4, 5_000, 'four refusals');
    await sleep(300);
    type Answer = { topic: string; retain: boolean; id?: string; error?: { code: string; message: string }; mode?: string; value?: number };
    const answers: Answer[] = seen.messages.slice(from).filter((m) => m.topic.endsWith('/state')).map((m) => ({ topic: m.topic, retain: m.retain, ...JSON.parse(m.payload) as object }));
    const brief = answers.map(({ topic, retain, id, error, mode, value }) => ({ topic, retain, id, code: error?.code, mode, value }));
    assert.deepEqual(brief, [
      { topic: T(5), retain: false, id: 'r-unknown', code: 'unknown_pin', mode: undefined, value: undefined },
      { topic: T(17), retain: false, id: 'r-mode', code: 'mode_not_allowed', mode: 'out', value: 1 },
      { topic: T(27), retain: false, id: 'r-input', code: 'mode_not_allowed', mode: 'in', value: 1 },
      { topic: T(18), retain: false, id: 'r-freq', code: 'out_of_range', mode: 'out', value: 0 },
    ]);
    assert.equal(answers[3]!.error?.message, 'pin 18 (Fan) takes 25–1000 Hz; not 5000');
    for (const { topic: _t, retain: _r, ...a } of answers) GpioStateSchema.parse(a);
    const late = await watcher(`devices/${SERIAL}/gpio/+/state`);
    await waitFor(() => late.messages.length >= 4, 5_000, 'the retained states');
    await sleep(200);
    assert.deepEqual(late.messages.map((m) => [m.topic, pinState(m.payload).value, pinState(m.payload).cause]).sort(), [
      [T(17), 1, 'set'], [T(18), 0, 'initial'], [T(23), 1, 'initial'], [T(27), 1, 'initial'],
    ], 'nothing changed, and no refusal is retained');
    await end(late.client);
    await waitFor(() => hub.query(`SELECT 1 FROM audit_log WHERE action = 'gpio.refused'`).length > 0, 3_000, 'the duty refusal in the audit log');
  });

  test('PWM, then holdSec without a renewal: back to the safe level, published', async () => {
    const from = seen.messages.length;
    await publish(seen.client, S(18), { v: 1, pwm: { duty: 0.5, freqHz: 100 }, id: 'fan' });
    const on = pinState((await seen.next(T(18), 5_000, from)).payload);
    assert.deepEqual(on.pwm, { duty: 0.5, freqHz: 100 });
    assert.equal(on.mode, 'pwm');
    const set = Date.now();
    const off = await seen.next(T(18), 5_000, from, (m) => pinState(m.payload).cause === 'hold-expired');
    const waited = Date.now() - set;
    assert.ok(waited > 800 && waited < 2_500, `after ${waited} ms (holdSec 1)`);
    assert.deepEqual({ ...pinState(off.payload), ts: 0 }, { v: 1, mode: 'out', value: 0, ts: 0, cause: 'hold-expired' });
    // the software PWM's worker thread ran all along (in the package it is a file of its own)
    assert.deepEqual(agent.daemon!.output.filter((l) => /software PWM stopped/.test(l)), []);
  });

  test('an input edge driven by the test is published once per debounced edge', async () => {
    const drive = (levels: string) => {
      const dir = join(agent.stateDir, 'gpio-sim');
      writeFileSync(join(dir, '.27.tmp'), levels);
      renameSync(join(dir, '.27.tmp'), join(dir, '27.in'));
    };
    const from = seen.messages.length;
    drive('0 1 0 1 0'); // a bouncing press: pulled up, pressed to 0
    await waitFor(() => statesOf(seen, 27, from).length >= 1, 5_000, 'the press');
    await sleep(300);
    assert.deepEqual(statesOf(seen, 27, from).map((s) => 'value' in s && [s.value, s.cause]), [[0, 'input']]);
    drive('1 0 1');
    await waitFor(() => statesOf(seen, 27, from).length >= 2, 5_000, 'the release');
    await sleep(300);
    assert.deepEqual(statesOf(seen, 27, from).map((s) => 'value' in s && [s.value, s.cause]), [[0, 'input'], [1, 'input']]);
  });

  test('pi-agent gpio --json shows the pins and their states', async () => {
    type Out = { running: boolean; driver: string; pins: Array<{ bcm: number; state: { mode: string; value: number; cause: string } }> };
    const read = async (): Promise<Out> => {
      const r = await agent.cliHere(['gpio', '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Out;
    };
    // The state file is written at most every 200 ms.
    await waitFor(async () => (await read()).pins.find((p) => p.bcm === 27)?.state.value === 1, 3_000, 'the state file');
    const out = await read();
    assert.equal(out.running, true);
    assert.equal(out.driver, 'sim');
    assert.deepEqual(out.pins.map((p) => [p.bcm, p.state.mode, p.state.value, p.state.cause]), [[17, 'out', 1, 'set'], [18, 'out', 0, 'hold-expired'], [23, 'out', 1, 'initial'], [27, 'in', 1, 'input']]);
    const text = await agent.cliHere(['gpio']);
    assert.match(text.stdout, /^driver: sim\n {2}17 {2}Relay +out; fail-safe +out 1 +set by alice /);
  });

  test('a pin removed from gpio.json goes to its safe level and leaves the manifest', async () => {
    const from = seen.messages.length;
    const { 23: _spare, ...rest } = PINS;
    agent.writeModule('gpio.json', gpioModule(rest));
    const m = await seen.next(T(23), 5_000, from);
    assert.deepEqual({ ...pinState(m.payload), ts: 0 }, { v: 1, mode: 'out', value: 0, ts: 0, cause: 'removed' });
    await waitFor(() => seen.messages.slice(from).some((x) => x.topic.endsWith('/manifest') && !ManifestSchema.parse(JSON.parse(x.payload)).gpio.some((p) => p.bcm === 23)), 5_000, 'a manifest without pin 23');
  });

  test('the hub gone longer than gpioFailSafeSec: fail-safe pins go safe, published when the link is back', async () => {
    assert.equal(lastState(seen, 17).value, 1);
    const from = agent.daemon!.output.length;
    await end(seen.client);
    await hub.daemon.stop();
    await agent.daemon!.waitForLine(/the hub link has been down for 1 s: fail-safe pins go to their safe levels pins=17$/, 5_000, from);
    await agent.daemon!.waitForLine(/pin 17 \(Relay\) is at its safe level cause=fail-safe mode=out value=0$/, 5_000, from);
    await hub.restart();
    seen = await watcher();
    const m = await seen.next(T(17), 15_000, 0, (x) => pinState(x.payload).cause === 'fail-safe');
    assert.equal(pinState(m.payload).value, 0);
    // Only failSafe pins: test/integration/agent/gpio/service.test.ts.
  });

  test('SIGTERM: outputs go to their safe levels, published before the agent goes offline', async () => {
    await waitFor(() => seen.on(`devices/${SERIAL}/status`).some((m) => JSON.parse(m.payload).online === true), 10_000, 'the agent back online');
    const from = seen.messages.length;
    await publish(seen.client, S(17), { v: 1, value: 1, id: 'before-stop' });
    await seen.next(T(17), 5_000, from, (m) => pinState(m.payload).id === 'before-stop');
    const exit = await agent.daemon!.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
    const after = seen.messages.slice(from);
    const safe = after.findIndex((m) => m.topic === T(17) && pinState(m.payload).cause === 'shutdown');
    const offline = after.findIndex((m) => m.topic.endsWith('/status') && JSON.parse(m.payload).online === false);
    assert.ok(safe >= 0, 'the safe state was published');
    assert.equal(pinState(after[safe]!.payload).value, 0);
    assert.ok(offline > safe, 'before {online:false}');
    const r = await agent.cliHere(['gpio']);
    assert.match(r.stdout, /^the daemon is not running: the pins as declared, no states\n {2}17 {2}Relay/);
  });
});
