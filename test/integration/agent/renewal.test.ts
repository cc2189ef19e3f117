// Certificate renewal with a lifetime of seconds (the hub's test-only PI_HUB_TEST_DEVICE_CERT_SECONDS):
// the agent renews at two thirds of the lifetime and switches certificates while it keeps answering,
// without going offline and without losing a request.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { CmdResultSchema, StatusSchema } from '../../../shared/schemas.js';
import { TestAgent } from '../../helpers/agent.js';
import { TestHub } from '../../helpers/hub.js';
import { Collector, connect } from '../../helpers/mqtt.js';
import { sleep, waitFor, withTimeout } from '../../helpers/process.js';

const LIFETIME_SEC = 12;
let hub: TestHub;
let agent: TestAgent;
let owner: MqttClient;

before(async () => {
  hub = await TestHub.start({ env: { PI_HUB_TEST_DEVICE_CERT_SECONDS: String(LIFETIME_SEC) } });
  await hub.addUser('alice');
  agent = await TestAgent.connect(hub, await hub.apiKey('alice'), 'pi-renew', {
    config: { statsIntervalSec: 3600 },
    modules: { 'test.json': { id: 'test', title: 'Test', commands: { echo: { title: 'Echo', run: ['/bin/echo', '{n}'], params: { n: { type: 'integer', min: 0, max: 100000 } } } } } },
  });
  owner = await connect(hub, await hub.userCert('alice'), { transport: 'mqtts' });
});
after(async () => {
  owner.end(true);
  await agent.remove();
  await hub.stop();
});

const certSerial = () => new X509Certificate(readFileSync(join(agent.configDir, 'cert.pem'))).serialNumber.toLowerCase();

test('renews at two thirds of the lifetime and switches without going offline or losing a request', async () => {
  const first = certSerial();
  const seen = new Collector(owner);
  await withTimeout(owner.subscribeAsync('devices/pi-renew/#', { qos: 1 }), 3000, 'subscribe');
  await agent.start();
  await seen.next('devices/pi-renew/status', 10_000).catch((e: Error) => {
    throw new Error(`${e.message}; owner connected=${owner.connected}; received: ${seen.messages.map((m) => m.topic).join(', ')}`);
  });

  // Requests every 250 ms through two renewals.
  const sent: string[] = [];
  let n = 0;
  const deadline = Date.now() + LIFETIME_SEC * 1000 * 1.5;
  while (Date.now() < deadline) {
    const id = `r${n}`;
    sent.push(id);
    await withTimeout(owner.publishAsync('devices/pi-renew/cmd/req', JSON.stringify({ v: 1, id, module: 'test', command: 'echo', params: { n } }), { qos: 1 }), 3000, `request ${id}`);
    n++;
    await sleep(250);
  }
  await waitFor(() => sent.every((id) => seen.on(`devices/pi-renew/cmd/res/${id}`).length > 0), 10_000, 'a result for every request');

  // A request redelivered across the switch is answered again with the same result, never run twice.
  const ran = readFileSync(join(agent.stateDir, 'commands.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; event: string });
  for (const [i, id] of sent.entries()) {
    const results = seen.on(`devices/pi-renew/cmd/res/${id}`).map((m) => CmdResultSchema.parse(JSON.parse(m.payload)));
    for (const r of results.slice(1)) assert.deepEqual(r, results[0], `the same result again for ${id}`);
    assert.equal(results[0]!.ok, true, JSON.stringify(results[0]));
    assert.equal(results[0]!.stdout, `${i}\n`);
    assert.equal(ran.filter((e) => e.id === id && e.event === 'result').length, 1, `${id} ran once`);
  }
  const renewals = agent.daemon!.output.filter((l) => /certificate renewed/.test(l)).length;
  assert.ok(renewals >= 1, 'renewed at least once');
  assert.ok(agent.daemon!.output.some((l) => /switched to the renewed certificate/.test(l)));
  assert.notEqual(certSerial(), first);
  // The hub saw the device connect again with each renewed certificate…
  assert.ok(hub.daemon.output.filter((l) => /connected who=device:pi-renew/.test(l)).length >= renewals + 1);
  // …and the owner never saw it go offline.
  const statuses = seen.on('devices/pi-renew/status').map((m) => StatusSchema.parse(JSON.parse(m.payload)));
  assert.ok(statuses.every((s) => s.online), `statuses: ${JSON.stringify(statuses)}`);
});

test('renews at start-up when two thirds of the lifetime have passed', async () => {
  // Stop right after a renewal, so that the whole window between two thirds and expiry lies ahead.
  await agent.daemon!.waitForLine(/certificate renewed/, LIFETIME_SEC * 1000);
  await agent.stop();
  const cert = new X509Certificate(readFileSync(join(agent.configDir, 'cert.pem')));
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  // Past two thirds of the lifetime, before the end (validFrom/validTo have a one-second resolution).
  await sleep(Math.max(0, from + (to - from) * 0.72 - Date.now()));
  assert.ok(Date.now() < to - 1000, `too late to test: now ${new Date().toISOString()}, certificate ${cert.validFrom} – ${cert.validTo}`);
  const before = certSerial();
  const daemon = await agent.start();
  await daemon.waitForLine(/certificate renewed/, 10_000, 0);
  assert.ok(daemon.output.some((l) => /due for renewal/.test(l)));
  assert.notEqual(certSerial(), before);
});
