// Issue 14: the limits that protect a hub under a large fleet are settings with defaults, and each is a
// clear refusal — CONNACK 3 beyond maxConnections, 403 device_quota beyond maxDevicesPerUser, stats
// beyond statsPerMinute dropped with an audit line — while the hub goes on serving everyone else.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { createCsr, generateKeyPair } from '../../../shared/pki.js';
import { TestHub } from '../../helpers/hub.js';
import { connect, connectCollector, end, granted, publish, tryConnect } from '../../helpers/mqtt.js';
import { stats, status } from '../../helpers/payloads.js';
import { sleep, waitFor } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

describe('fleet limits', () => {
  let hub: TestHub;
  let A: Tenant;
  before(async () => {
    hub = await TestHub.start({ config: { enrollBurst: 1000, maxConnections: 3, maxDevicesPerUser: 4, statsPerMinute: 6 } });
    A = await addTenant(hub, 'alice', ['pi-1', 'pi-2', 'pi-3', 'pi-4']);
  });
  after(async () => { await hub?.stop(); });

  it('maxConnections: the connection beyond it gets CONNACK 3 and an audit line; once one leaves, it connects', async () => {
    const held: MqttClient[] = [];
    try {
      for (const s of ['pi-1', 'pi-2', 'pi-3']) held.push(await connect(hub, device(A, s), { clientId: s }));
      const refused = await tryConnect(hub, device(A, 'pi-4'), { clientId: 'pi-4' });
      assert.equal(refused.outcome, 'refused');
      assert.match(refused.detail, /^3 /, refused.detail); // mqtt.js: code 3, "Server unavailable"
      await waitFor(() => hub.query<{ detail: string }>("SELECT detail FROM audit_log WHERE action = 'mqtt.refused'")
        .some((r) => r.detail.includes('maxConnections')), 5_000, 'the refusal in the audit log');
      // The hub still serves the ones it holds.
      await publish(held[0]!, 'devices/pi-1/status', status(true), { qos: 1 });
      await end(held.pop());
      await waitFor(async () => {
        const r = await tryConnect(hub, device(A, 'pi-4'), { clientId: 'pi-4' });
        if (r.client) held.push(r.client);
        return r.outcome === 'connected';
      }, 5_000, 'pi-4 connects once a connection is free');
    } finally {
      await end(...held);
    }
  });

  it('maxDevicesPerUser: the fifth Pi is refused with 403 device_quota; re-enrolling one of the four still works', async () => {
    const kp = await generateKeyPair();
    const res = await hub.request('POST', '/api/v1/enroll', { serial: 'pi-5', csr: await createCsr('pi-5', kp.keys) }, { authorization: `Bearer ${A.apiKey}` });
    assert.equal(res.status, 403);
    assert.equal((res.body as { error: { code: string } }).error.code, 'device_quota');
    await waitFor(() => hub.query("SELECT 1 FROM audit_log WHERE action = 'enroll.refused'").length === 1, 5_000, 'the refusal in the audit log');
    // A Pi already enrolled may enroll again (a reinstalled SD card): it replaces itself, no quota used.
    const again = await hub.enrollDevice(A.apiKey, 'pi-4');
    A.devices['pi-4'] = again;
    // Another user has a quota of their own.
    const B = await addTenant(hub, 'bob', ['pi-5']);
    assert.ok(B.devices['pi-5']);
  });

  it('statsPerMinute: a Pi sending stats in a burst gets 10 through, the rest dropped; its connection and its other messages go on', async () => {
    const owner = await connectCollector(hub, A.user, { transport: 'mqtts' });
    const pi = await connect(hub, device(A, 'pi-2'), { clientId: 'pi-2' });
    try {
      await granted(owner.client, ['devices/pi-2/#']);
      for (let i = 0; i < 30; i++) await publish(pi, 'devices/pi-2/stats', stats(i), { qos: 1 });
      await publish(pi, 'devices/pi-2/status', status(true), { qos: 1 });
      await owner.live('devices/pi-2/status', 5_000);
      await sleep(200);
      const got = owner.messages.filter((m) => m.topic === 'devices/pi-2/stats').length;
      assert.equal(got, 10, `stats delivered: ${got}`); // the burst; one more every 10 s at 6 a minute
      assert.ok(pi.connected, 'the Pi stays connected');
      await waitFor(() => hub.query<{ detail: string }>("SELECT detail FROM audit_log WHERE action = 'stats.dropped' AND device_serial = 'pi-2'")
        .some((r) => r.detail.includes('6 stats messages a minute')), 5_000, 'the drops in the audit log');
    } finally {
      await end(owner.client, pi);
    }
  });
});
