import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestHub } from '../../helpers/hub.js';
import { Collector, connect } from '../../helpers/mqtt.js';
import { withTimeout } from '../../helpers/process.js';

let hub: TestHub;
before(async () => { hub = await TestHub.start(); });
after(async () => { await hub.stop(); });

test('a device enrolled with an API key publishes its status and its owner receives it, topic stripped', async () => {
  await hub.addUser('alice');
  const key = await hub.apiKey('alice');
  const device = await hub.enrollDevice(key, 'pi-0001');
  const owner = await hub.userCert('alice');
  const sub = await connect(hub, owner, { transport: 'mqtts' });
  const seen = new Collector(sub);
  await withTimeout(sub.subscribeAsync('devices/#', { qos: 1 }), 3000, 'subscribe');
  const pi = await connect(hub, device, { clientId: 'pi-0001' });
  await withTimeout(pi.publishAsync('devices/pi-0001/status', JSON.stringify({ v: 1, online: true, ts: Date.now() }), { qos: 1, retain: true }), 3000, 'publish');
  const m = await seen.next('devices/pi-0001/status');
  assert.equal(JSON.parse(m.payload).online, true);
  await pi.endAsync();
  await sub.endAsync();
});
