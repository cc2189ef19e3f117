// Nothing lost when the hub restarts (issue 13): a real pi-hub process on mqtt.db (the default
// persistence), stopped with SIGTERM or killed with SIGKILL and started again on the same data
// directory, with real MQTT clients as Pis and users.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { TestHub } from '../../helpers/hub.js';
import { type Collector, connackOf, connectCollector, end, granted, publish, tryConnect } from '../../helpers/mqtt.js';
import { gpioState, manifest, requestId, status } from '../../helpers/payloads.js';
import { waitFor, withTimeout } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

const SERIALS = ['pi-queue', 'pi-retained', 'pi-will', 'pi-nowill', 'pi-kill'];
let hub: TestHub;
let A: Tenant;
const open: MqttClient[] = [];

before(async () => {
  hub = await TestHub.start({ config: { enrollBurst: 1000, maxSessionsPerUser: 2 } });
  A = await addTenant(hub, 'alice', SERIALS);
});
after(async () => {
  await end(...open);
  await hub?.stop();
});

async function pi(serial: string, o: { will?: object } = {}): Promise<Collector> {
  const c = await connectCollector(hub, device(A, serial), {
    clientId: serial, clean: false, ...(o.will ? { will: { topic: `devices/${serial}/status`, payload: Buffer.from(JSON.stringify(o.will)), qos: 1, retain: true } } : {}),
  });
  open.push(c.client);
  return c;
}

async function user(o: { clientId?: string; clean?: boolean } = {}): Promise<Collector> {
  const c = await connectCollector(hub, A.user, o);
  open.push(c.client);
  return c;
}

/** The retained message on a topic, as a new subscriber gets it. */
async function retained(topic: string): Promise<unknown> {
  const u = await user();
  await granted(u.client, [topic]);
  const m = await u.next(topic, 5_000);
  await end(u.client);
  assert.equal(m.retain, true, `${topic} is retained`);
  return JSON.parse(m.payload);
}

const request = (id: string) => ({ v: 1, id, module: 'core', command: 'update' });

describe('after a hub restart', () => {
  it('a QoS 1 request published for an offline Pi is delivered once the Pi comes back', async () => {
    const p = await pi('pi-queue');
    await granted(p.client, ['devices/pi-queue/cmd/req']);
    await end(p.client); // DISCONNECT: away, with its session kept
    const u = await user();
    const id = requestId('queued');
    await publish(u.client, 'devices/pi-queue/cmd/req', request(id)); // PUBACK: the hub holds it
    await end(u.client);

    await hub.restart();
    const back = await pi('pi-queue');
    assert.equal(connackOf(back.client).sessionPresent, true, 'the session survived the restart');
    const m = await back.next('devices/pi-queue/cmd/req', 5_000);
    assert.deepEqual(JSON.parse(m.payload), { ...request(id), by: 'alice' });
    assert.equal(m.qos, 1);
    await end(back.client);
  });

  it('retained statuses, manifests and GPIO states are still there', async () => {
    const p = await pi('pi-retained');
    const st = status(false); // what an agent says as it stops: this status is kept as it is
    const mf = manifest('kept-host');
    const gs = gpioState(1);
    await publish(p.client, 'devices/pi-retained/status', st, { retain: true });
    await publish(p.client, 'devices/pi-retained/manifest', mf, { retain: true });
    await publish(p.client, 'devices/pi-retained/gpio/17/state', gs, { retain: true });
    await end(p.client);

    await hub.restart();
    assert.deepEqual(await retained('devices/pi-retained/status'), st);
    assert.deepEqual(await retained('devices/pi-retained/manifest'), mf);
    assert.deepEqual(await retained('devices/pi-retained/gpio/17/state'), gs);
  });

  it('a will registered before the hub died is published when its Pi never returns; a Pi without one is marked offline by the hub', async () => {
    const will = { v: 1, online: false, ts: 4242 };
    const withWill = await pi('pi-will', { will });
    await publish(withWill.client, 'devices/pi-will/status', status(true), { retain: true });
    const noWill = await pi('pi-nowill'); // a third-party client: online, and no will
    await publish(noWill.client, 'devices/pi-nowill/status', status(true), { retain: true });

    await hub.restart('SIGKILL'); // the connections end without DISCONNECT; the Pis never come back
    withWill.client.end(true);
    noWill.client.end(true);
    assert.deepEqual(await retained('devices/pi-will/status'), will, 'the will itself, published by the restarted hub');
    const settled = await retained('devices/pi-nowill/status') as { online: boolean; ts: number };
    assert.equal(settled.online, false, 'not "online" for good');
    const res = await hub.request('GET', '/api/v1/devices', undefined, {}, A.user);
    const devices = (res.body as { devices: Array<{ serial: string; online: boolean; status: { online: boolean } | null }> }).devices;
    for (const serial of ['pi-will', 'pi-nowill']) {
      const d = devices.find((x) => x.serial === serial)!;
      assert.equal(d.online, false, `${serial} is listed offline`);
    }
  });

  it('a per-user quota of persistent sessions counts the sessions kept from before the restart', async () => {
    for (const clientId of ['dash-1', 'dash-2']) {
      const u = await user({ clientId, clean: false });
      await granted(u.client, ['devices/#']);
      await end(u.client);
    }
    await hub.restart();
    const third = await tryConnect(hub, A.user, { clientId: 'dash-3', clean: false });
    assert.equal(third.outcome, 'refused', 'a third persistent session is over the quota of 2');
    const again = await user({ clientId: 'dash-1', clean: false });
    assert.equal(connackOf(again.client).sessionPresent, true, 'a kept one may be resumed');
    await end(again.client);
    // a clean connect with a kept id ends that session and frees its place
    await end((await user({ clientId: 'dash-2', clean: true })).client);
    const now = await user({ clientId: 'dash-3', clean: false });
    await end(now.client);
  });
});

describe('SIGKILL mid-traffic', () => {
  it('loses no acknowledged QoS 1 message, and mqtt.db opens cleanly', async () => {
    const p = await pi('pi-kill');
    await granted(p.client, ['devices/pi-kill/cmd/req']);
    await end(p.client);
    const u = await user();
    const acked = new Set<string>();
    let sent = 0;
    let stop = false;
    const gone = new Promise<void>((resolve) => u.client.once('close', () => resolve()));
    // 16 requests in flight at a time until the hub is killed; each is counted once its PUBACK is in.
    const sender = async () => {
      while (!stop && sent < 600) {
        const id = `kill-${sent++}`;
        await Promise.race([gone, new Promise<void>((resolve) => {
          u.client.publish('devices/pi-kill/cmd/req', JSON.stringify(request(id)), { qos: 1 }, (err) => {
            if (!err) acked.add(id);
            resolve();
          });
        })]);
        if (!u.client.connected) return;
      }
    };
    const senders = Array.from({ length: 16 }, sender);
    await waitFor(() => acked.size >= 150, 20_000, '150 acknowledged requests');
    await hub.daemon.stop('SIGKILL');
    stop = true;
    u.client.end(true);
    await withTimeout(Promise.all(senders), 5_000, 'the senders to notice');
    assert.ok(acked.size >= 150 && acked.size < 600, `${acked.size} acknowledged before the kill`);

    const db = new Database(join(hub.dataDir, 'mqtt.db'));
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const kept = (db.prepare("SELECT count(*) AS n FROM outgoing WHERE client_id = ?").get(`d/${A.id}/pi-kill`) as { n: number }).n;
      assert.ok(kept >= acked.size, `${kept} queued, at least the ${acked.size} acknowledged`);
    } finally {
      db.close();
    }

    await hub.restart();
    const back = await pi('pi-kill');
    await waitFor(() => [...acked].every((id) => back.messages.some((m) => m.payload.includes(`"${id}"`))), 15_000,
      `every acknowledged request delivered (${back.messages.length} of ${acked.size} so far)`);
    await end(back.client);
  });
});

describe('hub.json "mqttPersistence": "memory"', () => {
  it('keeps no mqtt.db and forgets sessions at a restart', async () => {
    const mem = await TestHub.start({ config: { enrollBurst: 1000, mqttPersistence: 'memory' } });
    try {
      const t = await addTenant(mem, 'mem', ['pi-m']);
      const c = await connectCollector(mem, device(t, 'pi-m'), { clientId: 'pi-m', clean: false });
      await granted(c.client, ['devices/pi-m/cmd/req']);
      await publish(c.client, 'devices/pi-m/manifest', manifest(), { retain: true });
      await end(c.client);
      await mem.restart();
      const again = await connectCollector(mem, device(t, 'pi-m'), { clientId: 'pi-m', clean: false });
      assert.equal(connackOf(again.client).sessionPresent, false, 'no session kept');
      assert.equal(existsSync(join(mem.dataDir, 'mqtt.db')), false, 'no mqtt.db');
      await end(again.client);
    } finally {
      await mem.stop();
    }
  });
});
