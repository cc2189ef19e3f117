// Commands through the real hub: every cmd/req (and gpio/set) is validated, stamped with the
// authenticated user and audited before a device sees it; refusals come back as results; results and
// their audit entries come from the device. The dashboard side speaks mqtts, the device wss.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { TestHub } from '../../helpers/hub.js';
import { type Collector, connectCollector, end, granted, publish } from '../../helpers/mqtt.js';
import { cmdResult, requestId } from '../../helpers/payloads.js';
import { sleep, waitFor } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';
import { CmdResultSchema } from '../../../shared/schemas.js';

let hub: TestHub;
let A: Tenant;
let B: Tenant;
let owner: Collector; // alice's user certificate, mqtts
let pi: Collector; // alice's pi-a1, wss
const clients: MqttClient[] = [];

before(async () => {
  hub = await TestHub.start();
  A = await addTenant(hub, 'alice', ['pi-a1']);
  B = await addTenant(hub, 'bob', []);
  owner = await connectCollector(hub, A.user, { transport: 'mqtts' });
  pi = await connectCollector(hub, device(A, 'pi-a1'), { transport: 'wss', clientId: 'pi-a1' });
  clients.push(owner.client, pi.client);
  await granted(owner.client, ['devices/pi-a1/cmd/res/+', 'devices/pi-a1/gpio/+/state']);
  await granted(pi.client, ['devices/pi-a1/cmd/req', 'devices/pi-a1/gpio/+/set']);
});
after(async () => {
  await end(...clients);
  await hub?.stop();
});

interface AuditRow { ts: number; user_id: number | null; actor: string; device_serial: string | null; action: string; detail: string }

async function audit(action: string, where: (detail: Record<string, unknown>) => boolean): Promise<AuditRow & { d: Record<string, unknown> }> {
  let row: (AuditRow & { d: Record<string, unknown> }) | undefined;
  await waitFor(() => {
    row = hub.query<AuditRow>('SELECT * FROM audit_log WHERE action = ? ORDER BY id', action)
      .map((r) => ({ ...r, d: JSON.parse(r.detail) as Record<string, unknown> }))
      .find((r) => where(r.d));
    return row !== undefined;
  }, 3_000, `an audit entry ${action}`);
  return row!;
}

/** Publishes a request and a valid one after it; returns the requests the device received up to the valid one. */
async function throughHub(payload: string | object): Promise<unknown[]> {
  const from = pi.messages.length;
  await publish(owner.client, 'devices/pi-a1/cmd/req', payload);
  const barrier = requestId('barrier');
  await publish(owner.client, 'devices/pi-a1/cmd/req', { v: 1, id: barrier, module: 'core', command: 'update' });
  await pi.live('devices/pi-a1/cmd/req', 3_000, (m) => m.payload.includes(barrier));
  return pi.messages.slice(from).map((m) => JSON.parse(m.payload)).filter((r) => (r as { id: string }).id !== barrier);
}

describe('cmd/req', () => {
  it('reaches the device stamped with the authenticated user, overwriting a forged `by`, and is audited', async () => {
    const id = requestId();
    const [got, ...rest] = await throughHub({ v: 1, id, module: 'core', command: 'reboot', params: { svc: 'ssh', n: 3 }, by: 'mallory' });
    assert.deepEqual(rest, []);
    assert.deepEqual(got, { v: 1, id, module: 'core', command: 'reboot', params: { svc: 'ssh', n: 3 }, by: 'alice' });
    const row = await audit('cmd.req', (d) => d.id === id);
    assert.deepEqual(
      { user: row.user_id, actor: row.actor, device: row.device_serial, detail: row.d },
      { user: Number(A.id), actor: 'user:alice', device: 'pi-a1', detail: { id, module: 'core', command: 'reboot', params: { svc: 'ssh', n: 3 } } },
    );
    assert.ok(Math.abs(row.ts - Date.now()) < 10_000);
  });

  it('is never retained: a device subscribing later does not run it again', async () => {
    const id = requestId();
    await publish(owner.client, 'devices/pi-a1/cmd/req', { v: 1, id, module: 'core', command: 'reboot' }, { retain: true });
    const live = await pi.live('devices/pi-a1/cmd/req', 3_000, (m) => m.payload.includes(id));
    assert.equal(live.retain, false);
    const later = await connectCollector(hub, device(A, 'pi-a1'), { transport: 'mqtts', clientId: 'pi-a1' });
    clients.push(later.client);
    // (this takes pi-a1's session over; reconnect the main one afterwards)
    await granted(later.client, ['devices/pi-a1/cmd/req']);
    await sleep(300);
    assert.deepEqual(later.messages, []);
    await end(later.client);
    pi = await connectCollector(hub, device(A, 'pi-a1'), { transport: 'wss', clientId: 'pi-a1' });
    clients.push(pi.client);
    await granted(pi.client, ['devices/pi-a1/cmd/req', 'devices/pi-a1/gpio/+/set']);
  });

  const invalid: Array<[string, (id: string) => string | object, string]> = [
    ['without a command', (id) => ({ v: 1, id, module: 'core' }), 'command'],
    ['with another version', (id) => ({ v: 2, id, module: 'core', command: 'reboot' }), 'v'],
    ['with an unknown field', (id) => ({ v: 1, id, module: 'core', command: 'reboot', shell: 'rm -rf /' }), 'shell'],
    ['with a module name that is a path', (id) => ({ v: 1, id, module: '../etc', command: 'reboot' }), 'module'],
    ['with a parameter that is an object', (id) => ({ v: 1, id, module: 'core', command: 'reboot', params: { a: { b: 1 } } }), 'params'],
    ['with a `by` that is not a string', (id) => ({ v: 1, id, module: 'core', command: 'reboot', by: 7 }), 'by'],
  ];
  for (const [name, make, field] of invalid) {
    it(`${name}: refused with an error result on cmd/res/<id>, never forwarded, audited`, async () => {
      const id = requestId();
      const forwarded = await throughHub(make(id));
      assert.deepEqual(forwarded, [], 'the device received it');
      const res = await owner.live(`devices/pi-a1/cmd/res/${id}`);
      const r = CmdResultSchema.parse(JSON.parse(res.payload));
      assert.equal(r.id, id);
      assert.equal(r.ok, false);
      assert.equal(r.error?.code, 'invalid_request');
      assert.match(r.error?.message ?? '', new RegExp(field));
      const row = await audit('cmd.refused', (d) => d.id === id);
      assert.deepEqual([row.user_id, row.actor, row.device_serial], [Number(A.id), 'user:alice', 'pi-a1']);
      assert.equal(owner.client.connected, true, 'a bad request is no reason to cut the requester off');
    });
  }

  for (const [name, payload] of [['not JSON', '{"v":1,'], ['JSON null', 'null'], ['an id that cannot name a topic', { v: 1, id: 'a/b', module: 'core', command: 'reboot' }]] as const) {
    it(`${name}: never forwarded, audited, and no result (there is no id to answer on)`, async () => {
      const before = hub.query<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'cmd.refused'")[0]!.n;
      const resBefore = owner.messages.length;
      assert.deepEqual(await throughHub(payload), []);
      await waitFor(() => hub.query<{ n: number }>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'cmd.refused'")[0]!.n === before + 1, 3_000, 'the refusal audited');
      assert.deepEqual(owner.messages.slice(resBefore), []);
    });
  }

  it("a device's result reaches its owner and is audited as the device's", async () => {
    const id = requestId();
    await publish(owner.client, 'devices/pi-a1/cmd/req', { v: 1, id, module: 'core', command: 'update' });
    await pi.live('devices/pi-a1/cmd/req', 3_000, (m) => m.payload.includes(id));
    await publish(pi.client, `devices/pi-a1/cmd/res/${id}`, cmdResult(id, { exitCode: 3, ok: false, durationMs: 42 }));
    const res = await owner.live(`devices/pi-a1/cmd/res/${id}`);
    assert.deepEqual(JSON.parse(res.payload), cmdResult(id, { exitCode: 3, ok: false, durationMs: 42 }));
    const row = await audit('cmd.res', (d) => d.id === id);
    assert.deepEqual(
      { user: row.user_id, actor: row.actor, device: row.device_serial, detail: row.d },
      { user: Number(A.id), actor: 'device:pi-a1', device: 'pi-a1', detail: { id, ok: false, exitCode: 3, signal: null, durationMs: 42, error: null } },
    );
  });

  it('a result that is invalid, or whose id is not its topic\'s, is dropped (and the device stays connected)', async () => {
    const id = requestId();
    const other = requestId();
    await publish(pi.client, `devices/pi-a1/cmd/res/${id}`, cmdResult(other));
    await publish(pi.client, `devices/pi-a1/cmd/res/${id}`, { v: 1, id, ok: 'yes' });
    await publish(pi.client, `devices/pi-a1/cmd/res/${id}`, 'not json');
    const good = requestId();
    await publish(pi.client, `devices/pi-a1/cmd/res/${good}`, cmdResult(good));
    await owner.live(`devices/pi-a1/cmd/res/${good}`);
    await sleep(100);
    assert.deepEqual(owner.on(`devices/pi-a1/cmd/res/${id}`), []);
    assert.equal(pi.client.connected, true);
    assert.equal(hub.query("SELECT * FROM audit_log WHERE action = 'cmd.res' AND detail LIKE ?", `%${id}%`).length, 0);
  });

  it("bob's request naming alice's device stays in bob's mountpoint, is answered unknown_device and audited as bob's", async () => {
    const bob = await connectCollector(hub, B.user, { transport: 'wss' });
    clients.push(bob.client);
    const id = requestId('bob');
    const forwarded = await (async () => {
      const from = pi.messages.length;
      await publish(bob.client, 'devices/pi-a1/cmd/req', { v: 1, id, module: 'core', command: 'reboot', by: 'alice' });
      const barrier = requestId('barrier');
      await publish(owner.client, 'devices/pi-a1/cmd/req', { v: 1, id: barrier, module: 'core', command: 'update' });
      await pi.live('devices/pi-a1/cmd/req', 3_000, (m) => m.payload.includes(barrier));
      await sleep(100);
      return pi.messages.slice(from).map((m) => JSON.parse(m.payload).id as string).filter((x) => x === id);
    })();
    assert.deepEqual(forwarded, []);
    // bob has no Pi pi-a1: the hub answers instead of queueing a request nobody will ever take
    await granted(bob.client, [`devices/pi-a1/cmd/res/${id}`]);
    await publish(bob.client, 'devices/pi-a1/cmd/req', { v: 1, id, module: 'core', command: 'reboot' });
    const res = CmdResultSchema.parse(JSON.parse((await bob.live(`devices/pi-a1/cmd/res/${id}`)).payload));
    assert.equal(res.error?.code, 'unknown_device');
    assert.match(res.error?.message ?? '', /no Pi pi-a1 is enrolled for this user/);
    const row = await audit('cmd.refused', (d) => d.id === id);
    assert.deepEqual([row.user_id, row.actor], [Number(B.id), 'user:bob']);
    assert.equal(hub.query("SELECT * FROM audit_log WHERE action = 'cmd.req' AND detail LIKE ?", `%${id}%`).length, 0);
  });
});

describe('gpio/set', () => {
  it('reaches the device validated and stamped, and is audited; an invalid one is not forwarded', async () => {
    const from = pi.messages.length;
    await publish(owner.client, 'devices/pi-a1/gpio/17/set', { v: 1, value: 2 }); // invalid value
    await publish(owner.client, 'devices/pi-a1/gpio/17/set', { v: 1, mode: 'pwm', pwm: { duty: 0.5, freqHz: 100 }, by: 'mallory' });
    const m = await pi.live('devices/pi-a1/gpio/17/set');
    assert.deepEqual(JSON.parse(m.payload), { v: 1, mode: 'pwm', pwm: { duty: 0.5, freqHz: 100 }, by: 'alice' });
    await sleep(100);
    assert.equal(pi.messages.slice(from).length, 1);
    const row = await audit('gpio.set', (d) => d.bcm === 17);
    assert.deepEqual([row.user_id, row.actor, row.device_serial], [Number(A.id), 'user:alice', 'pi-a1']);
    await audit('gpio.refused', (d) => d.bcm === 17);
  });
});
