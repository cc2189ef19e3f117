// Revoking the API key revokes the Pi's certificate: the hub cuts the live session within a second,
// refuses the reconnects, and the agent says plainly what to do and slows down instead of hammering.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { StatusSchema } from '../../../shared/schemas.js';
import { TestAgent } from '../../helpers/agent.js';
import { TestHub } from '../../helpers/hub.js';
import { Collector, connect } from '../../helpers/mqtt.js';
import { sleep, waitFor, withTimeout } from '../../helpers/process.js';

let hub: TestHub;
let agent: TestAgent;
let owner: MqttClient;

before(async () => {
  hub = await TestHub.start();
  await hub.addUser('alice');
  agent = await TestAgent.connect(hub, await hub.apiKey('alice'), 'pi-revoked', { config: { refusedRetrySec: 30 } });
  owner = await connect(hub, await hub.userCert('alice'), { transport: 'mqtts' });
});
after(async () => {
  owner.end(true);
  await agent.remove();
  await hub.stop();
});

test('revoking the API key cuts the agent, its reconnects are refused, and it backs off to a slow retry', async () => {
  const seen = new Collector(owner);
  await withTimeout(owner.subscribeAsync('devices/pi-revoked/status', { qos: 1 }), 3000, 'subscribe');
  const daemon = await agent.start();
  await daemon.waitForLine(/pi-agent: online/, 10_000, 0);
  const keyId = (await hub.cli(['apikey', 'list', '--user', 'alice'])).stdout.split('\n')[1]!.split(/\s+/)[0]!;

  const from = seen.messages.length;
  const linesBefore = daemon.output.length;
  const r = await hub.cli(['apikey', 'revoke', keyId]);
  const revokedAt = Date.now();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /and 1 device certificate/);
  await waitFor(() => seen.messages.slice(from).some((m) => !StatusSchema.parse(JSON.parse(m.payload)).online), 2_000, 'the will after the cut');
  assert.ok(Date.now() - revokedAt < 1_500, `cut after ${Date.now() - revokedAt} ms`);

  await daemon.waitForLine(/the hub refused this Pi: its certificate is revoked or unknown there\. Connect it again: sudo pi-agent connect/, 10_000, linesBefore);
  await sleep(4_000);
  const refusals = hub.daemon.output.filter((l) => /connection refused .*client=pi-revoked .*is revoked/.test(l)).length;
  assert.ok(refusals >= 1 && refusals <= 2, `${refusals} refused attempts in ~4 s: the agent should be retrying slowly`);
  assert.equal(daemon.output.filter((l) => /the hub refused this Pi/.test(l)).length, 1, 'said once, not on every attempt');
});
