// Issue 7, F4 and the audit of refusals: when the hub itself ends a session (a revoked certificate),
// the client's will is dropped — a revoked client's last word is not published — and the hub marks a
// device offline itself. Failed authentications and ACL refusals reach the audit log, at most one
// entry per client and 10 s, the next one counting those left out.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestHub } from '../../helpers/hub.js';
import { closed, connect, connectCollector, end, granted, publishRefused, tryConnect } from '../../helpers/mqtt.js';
import { status } from '../../helpers/payloads.js';
import { waitFor, withTimeout } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

let hub: TestHub;
let A: Tenant;

before(async () => {
  hub = await TestHub.start();
  A = await addTenant(hub, 'alice', ['pi-w1', 'pi-w2']);
});
after(async () => { await hub?.stop(); });

interface Row { actor: string; user_id: number | null; device_serial: string | null; detail: string }

describe('sessions the hub ends', () => {
  it("a revoked device's will is not published: the hub marks it offline itself", async () => {
    const owner = await connectCollector(hub, A.user, { transport: 'mqtts' });
    const WILL_TS = 4242;
    const pi = await connect(hub, device(A, 'pi-w1'), {
      transport: 'wss', clientId: 'pi-w1',
      will: { topic: 'devices/pi-w1/status', payload: Buffer.from(JSON.stringify({ v: 1, online: false, ts: WILL_TS })), qos: 1, retain: true },
    });
    try {
      await granted(owner.client, ['devices/pi-w1/status']);
      const gone = closed(pi);
      const r = await hub.cli(['cert', 'revoke', device(A, 'pi-w1').certSerial]);
      assert.equal(r.code, 0, r.stderr);
      await withTimeout(gone, 3_000, 'the revoked session to close');
      const offline = await owner.live('devices/pi-w1/status', 3_000);
      const s = JSON.parse(offline.payload) as { online: boolean; ts: number };
      assert.equal(s.online, false);
      assert.notEqual(s.ts, WILL_TS, 'the will was published');
      await waitFor(() => hub.query<{ online: number }>("SELECT online FROM devices WHERE serial = 'pi-w1'")[0]?.online === 0, 3_000, 'the device recorded offline');
      // and the retained status is the hub's, not the will
      const late = await connectCollector(hub, A.user, { transport: 'wss' });
      await granted(late.client, ['devices/pi-w1/status']);
      const kept = await late.next('devices/pi-w1/status', 3_000);
      assert.notEqual((JSON.parse(kept.payload) as { ts: number }).ts, WILL_TS);
      assert.equal(owner.on('devices/pi-w1/status').filter((m) => JSON.parse(m.payload).ts === WILL_TS).length, 0);
      await end(late.client);
    } finally {
      await end(owner.client, pi);
    }
  });

  it('a device that simply drops its connection still has its will published (the hub did not end it)', async () => {
    const owner = await connectCollector(hub, A.user, { transport: 'mqtts' });
    const pi = await connect(hub, device(A, 'pi-w2'), {
      transport: 'mqtts', clientId: 'pi-w2',
      will: { topic: 'devices/pi-w2/status', payload: Buffer.from(JSON.stringify({ v: 1, online: false, ts: 777 })), qos: 1, retain: true },
    });
    try {
      await granted(owner.client, ['devices/pi-w2/status']);
      (pi as unknown as { stream: { destroy(): void } }).stream.destroy();
      const m = await owner.live('devices/pi-w2/status', 3_000);
      assert.deepEqual(JSON.parse(m.payload), { v: 1, online: false, ts: 777 });
    } finally { await end(owner.client, pi); }
  });
});

describe('the audit log records refusals, throttled', () => {
  it('connections refused for want of a certificate: one entry for the address, the next counting those left out', async () => {
    const count = () => hub.query<Row>("SELECT * FROM audit_log WHERE action = 'mqtt.refused' AND actor = 'remote:127.0.0.1'");
    for (let i = 0; i < 6; i++) await tryConnect(hub, null, { transport: i % 2 ? 'wss' : 'mqtts' });
    await waitFor(() => count().length === 1, 3_000, 'the first refusal audited');
    const [row] = count();
    assert.equal(row!.user_id, null);
    assert.match(row!.detail, /"reason":"no client certificate"/);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(count().length, 1, 'throttled: one entry in 10 s');
  });

  it('a publish outside the ACL is audited as the client that tried it', async () => {
    const c = await connect(hub, A.user, { transport: 'mqtts' });
    await publishRefused(c, 'devices/pi-w2/status', status());
    await waitFor(() => hub.query("SELECT 1 FROM audit_log WHERE action = 'acl.publish.refused'").length === 1, 3_000, 'audited');
    const [row] = hub.query<Row>("SELECT * FROM audit_log WHERE action = 'acl.publish.refused'");
    assert.deepEqual([row!.user_id, row!.actor, JSON.parse(row!.detail)], [Number(A.id), `user:${A.id}`, { topic: 'devices/pi-w2/status' }]);
  });
});
