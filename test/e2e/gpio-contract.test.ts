// The pin controls against the GPIO contract (shared/schemas.ts, "GPIO"), whatever the agent does: a
// Pi made of an MQTT client offers pins in its manifest, answers each set with its retained state (with
// the set's id and who set it), and refuses a duty cycle above 90 % on the state topic, not retained.
// Two windows: what one sets, both show; a refusal shows only where it was asked, and changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { GpioSetSchema, GpioStateSchema, type Manifest } from '../../shared/schemas.js';
import { parseDeviceTopic } from '../../shared/topics.js';
import { TestHub } from '../helpers/hub.js';
import { connect, end, granted } from '../helpers/mqtt.js';
import { status } from '../helpers/payloads.js';
import { waitFor } from '../helpers/process.js';
import { Guard, deviceWindows, launch, screenshot } from './browser.js';

const SERIAL = 'pi-pins';
const PINS: Manifest['gpio'] = [
  { bcm: 17, name: 'Relay', modes: ['out'], state: { mode: 'out', value: 0 }, failSafe: true },
  { bcm: 18, name: 'Fan', modes: ['pwm', 'out'], pwm: { minHz: 25, maxHz: 1000 }, state: { mode: 'pwm', value: 0, pwm: { duty: 0.2, freqHz: 100 } }, holdSec: 60 },
  { bcm: 27, name: 'Button', modes: ['in'], state: { mode: 'in', value: 1 } },
];

let hub: TestHub;
let pi: MqttClient;
let browser: Browser;
let guard: Guard;
const windows: Page[] = [];
const sets: unknown[] = [];

/** The Pi's side of the contract, in a few lines. */
function answer(topic: string, payload: Buffer): void {
  const t = parseDeviceTopic(topic);
  if (t?.kind !== 'gpio-set') return;
  const set = GpioSetSchema.parse(JSON.parse(payload.toString()));
  sets.push(set);
  // Through the schema, so the fake Pi cannot drift from the contract.
  const state = (s: Record<string, unknown>, retain: boolean) =>
    pi.publish(`devices/${SERIAL}/gpio/${t.bcm}/state`, JSON.stringify(GpioStateSchema.parse({ v: 1, ts: Date.now(), ...s })), { qos: 1, retain });
  if (set.pwm && set.pwm.duty > 0.9) {
    return void state({ mode: 'pwm', value: 0, id: set.id, error: { code: 'out_of_range', message: 'at most 90 % on this fan' } }, false);
  }
  state({ mode: set.mode ?? 'out', value: set.value ?? 0, ...(set.pwm ? { pwm: set.pwm } : {}), by: set.by, cause: 'set', id: set.id }, true);
}

before(async () => {
  hub = await TestHub.start();
  await hub.addUser('alice');
  const creds = await hub.enrollDevice(await hub.apiKey('alice'), SERIAL);
  pi = await connect(hub, creds, { transport: 'mqtts', clientId: SERIAL });
  assert.deepEqual(await granted(pi, [`devices/${SERIAL}/gpio/+/set`]), [1]);
  pi.on('message', answer);
  const manifest: Manifest = { v: 1, ts: Date.now(), agentVersion: 'test', device: { model: 'Raspberry Pi 5 Model B', hostname: 'pins' }, modules: [], doctor: false, gpio: PINS };
  pi.publish(`devices/${SERIAL}/status`, JSON.stringify(status(true)), { qos: 1, retain: true });
  pi.publish(`devices/${SERIAL}/manifest`, JSON.stringify(manifest), { qos: 1, retain: true });
  browser = await launch(hub);
  guard = new Guard(hub.httpsUrl);
  windows.push(...await deviceWindows(browser, hub, guard, SERIAL));
});

after(async () => {
  if (pi) await end(pi);
  await browser?.close();
  await hub?.stop();
});

const switchState = (w: Page) => w.getByRole('switch', { name: 'Relay (GPIO17)' }).getAttribute('aria-checked');

describe('pin controls against the GPIO contract', () => {
  it('draws the header with the offered pins, each with its control and the manifest state', async () => {
    const [w1] = windows as [Page, Page];
    const drawing = w1.getByRole('img', { name: /40-pin header/ });
    assert.match((await drawing.getAttribute('aria-label'))!, /Relay: GPIO17, pin 11; Fan: GPIO18, pin 12; Button: GPIO27, pin 13/);
    assert.equal(await w1.locator('.hp.allowed').count(), 3, 'three pins marked on the drawing');
    assert.equal(await switchState(w1), 'false');
    assert.equal(await w1.getByRole('status', { name: 'Button (GPIO27) level' }).innerText(), 'High');
    assert.equal(await w1.getByRole('slider', { name: 'Fan (GPIO18) duty cycle' }).inputValue(), '20');
    assert.equal(await w1.getByRole('switch').count(), 1, 'no switch for an input or a PWM pin');
  });

  it('a switch flipped in window 1 turns in window 2, with who set it', async () => {
    const [w1, w2] = windows as [Page, Page];
    await w1.getByRole('switch', { name: 'Relay (GPIO17)' }).click();
    await waitFor(async () => (await switchState(w2)) === 'true', 10_000, 'window 2 to show the relay on');
    assert.equal(await switchState(w1), 'true');
    assert.match(await w2.locator('.pin[data-bcm="17"] .pin-foot').innerText(), /set by alice/);
    const sent = sets.at(-1) as { mode: string; value: number; id: string; by: string };
    assert.deepEqual([sent.mode, sent.value, sent.by], ['out', 1, 'alice']);
    assert.match(sent.id, /^g[a-z0-9]+$/);
    await screenshot(w2, 'device-gpio');
  });

  it('a duty cycle moved in window 1 shows in window 2', async () => {
    const [w1, w2] = windows as [Page, Page];
    await w1.getByRole('slider', { name: 'Fan (GPIO18) duty cycle' }).fill('40');
    await w2.getByLabel('Fan (GPIO18) duty', { exact: true }).filter({ hasText: '40 %' }).waitFor({ timeout: 10_000 });
    assert.deepEqual((sets.at(-1) as { pwm: unknown }).pwm, { duty: 0.4, freqHz: 100 });
  });

  it('a refused set shows why in the window that asked, and changes nothing anywhere', async () => {
    const [w1, w2] = windows as [Page, Page];
    await w1.getByRole('slider', { name: 'Fan (GPIO18) duty cycle' }).fill('95');
    await w1.getByRole('alert').filter({ hasText: 'Refused: at most 90 % on this fan (out_of_range)' }).waitFor({ timeout: 10_000 });
    await waitFor(async () => (await w1.getByLabel('Fan (GPIO18) duty', { exact: true }).innerText()) === '40 %', 5_000, 'window 1 back at the Pi\'s 40 %');
    assert.equal(await w2.getByLabel('Fan (GPIO18) duty', { exact: true }).innerText(), '40 %');
    assert.equal(await w2.getByRole('alert').count(), 0, 'the other window shows no refusal');
  });

  it('made no request to another origin and broke no CSP rule', () => {
    assert.deepEqual(guard.problems, []);
  });
});
