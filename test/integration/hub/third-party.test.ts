// Clients none of us wrote, as integrations use them: Debian's mosquitto_sub/mosquitto_pub over
// mqtts with the files `pi-hub cert issue` writes, and Debian's python3-paho-mqtt over wss with a
// client certificate. Each publishes a cmd/req and receives messages through the hub. Both send an
// empty client id by default, so several of one user's clients run side by side.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { TestHub } from '../../helpers/hub.js';
import { type Collector, connectCollector, end, granted, publish } from '../../helpers/mqtt.js';
import { PahoClient, SYSTEM_PYTHON } from '../../helpers/paho-client.js';
import { cmdResult, status } from '../../helpers/payloads.js';
import { Daemon, runProgram, sleep } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

const MISSING = ['/usr/bin/mosquitto_sub', '/usr/bin/mosquitto_pub', '/usr/bin/stdbuf', SYSTEM_PYTHON].filter((f) => !existsSync(f));

let hub: TestHub;
let A: Tenant;
let B: Tenant;
let pi: Collector; // alice's pi-a1, mqtt.js over wss
const clients: MqttClient[] = [];

before(async () => {
  assert.deepEqual(MISSING, [], 'apt-get install mosquitto-clients python3-paho-mqtt');
  hub = await TestHub.start();
  [A, B] = await Promise.all([addTenant(hub, 'alice', ['pi-a1']), addTenant(hub, 'bob', [])]);
  pi = await connectCollector(hub, device(A, 'pi-a1'), { transport: 'wss', clientId: 'pi-a1' });
  clients.push(pi.client);
  await granted(pi.client, ['devices/pi-a1/cmd/req']);
});
after(async () => {
  await end(...clients);
  await hub?.stop();
});

/** What the device received on cmd/req, parsed, waiting for the request with this id. */
async function requestSeen(id: string): Promise<Record<string, unknown>> {
  const m = await pi.live('devices/pi-a1/cmd/req', 8_000, (x) => x.payload.includes(id));
  return JSON.parse(m.payload) as Record<string, unknown>;
}

describe('mosquitto_sub / mosquitto_pub over mqtts', () => {
  const tlsArgs = (t: Tenant) => [
    '-h', '127.0.0.1', '-p', String(hub.mqttsPort), '-V', 'mqttv311',
    '--cafile', join(t.user.dir, 'ca.crt'), '--cert', join(t.user.dir, `${t.name}.crt`), '--key', join(t.user.dir, `${t.name}.key`),
  ];
  const subs: Daemon[] = [];
  after(async () => { await Promise.all(subs.map((s) => s.stop('SIGTERM', 2_000))); });

  /** mosquitto_sub -v -d on these filters (QoS 1), once its SUBACK is in: returns it and the granted codes. */
  async function sub(t: Tenant, filters: string[]): Promise<{ d: Daemon; granted: number[] }> {
    // stdbuf: into a pipe, mosquitto_sub's debug lines would wait in a full stdio buffer
    const d = Daemon.startProgram('stdbuf', ['-oL', 'mosquitto_sub', ...tlsArgs(t), '-q', '1', '-v', '-d', ...filters.flatMap((f) => ['-t', f])], `mosquitto_sub ${t.name}`);
    subs.push(d);
    const m = await d.waitForLine(/^Subscribed \(mid: \d+\): ([\d, ]+)$/, 8_000, 0);
    return { d, granted: m[1]!.split(',').map((s) => Number(s.trim())) };
  }

  it("receives a device's status and results, and its cmd/req reaches the device stamped — two subscribers side by side", async () => {
    const one = await sub(A, ['devices/+/status', 'devices/+/cmd/res/+', '#']);
    assert.deepEqual(one.granted, [1, 1, 128]);
    const two = await sub(A, ['devices/pi-a1/status']);
    assert.deepEqual(two.granted, [1]);
    const bob = await sub(B, ['devices/#']);
    assert.deepEqual(bob.granted, [1]);

    const s = status(true);
    await publish(pi.client, 'devices/pi-a1/status', s, { retain: true });
    const line = `devices/pi-a1/status ${JSON.stringify(s)}`;
    await one.d.waitForLine(new RegExp(`^${escape(line)}$`), 5_000, 0);
    await two.d.waitForLine(new RegExp(`^${escape(line)}$`), 5_000, 0);

    const id = 'mosq-1';
    const r = await runProgram('mosquitto_pub', [...tlsArgs(A), '-q', '1', '-t', 'devices/pi-a1/cmd/req', '-m', JSON.stringify({ v: 1, id, module: 'core', command: 'reboot', by: 'mallory' })], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await requestSeen(id), { v: 1, id, module: 'core', command: 'reboot', by: 'alice' });

    await publish(pi.client, `devices/pi-a1/cmd/res/${id}`, cmdResult(id));
    await one.d.waitForLine(new RegExp(`^devices/pi-a1/cmd/res/${id} \\{`), 5_000, 0);

    await sleep(150);
    assert.equal(bob.d.output.filter((l) => l.startsWith('devices/')).length, 0, bob.d.log);
    assert.ok(one.d.running && two.d.running, 'both subscribers still connected');
  });

  it('mosquitto_pub on what only a device may publish loses its connection (exit 7) and nothing is delivered', async () => {
    const watcher = await sub(A, ['devices/pi-a1/status']);
    const r = await runProgram('mosquitto_pub', [...tlsArgs(A), '-q', '1', '-t', 'devices/pi-a1/status', '-m', JSON.stringify(status(false))], { timeoutMs: 10_000 });
    assert.equal(r.code, 7, `${r.stdout}${r.stderr}`); // MOSQ_ERR_CONN_LOST
    await sleep(200);
    assert.ok(watcher.d.output.every((l) => !l.includes('"online":false')), watcher.d.log);
  });

  it('mosquitto_sub with a refused subscription only says so', async () => {
    const r = await runProgram('mosquitto_sub', [...tlsArgs(A), '-t', '$SYS/#', '-W', '3'], { timeoutMs: 10_000 });
    assert.match(r.stderr, /All subscription requests were denied/);
  });
});

describe('python3-paho-mqtt over wss', () => {
  const pahos: PahoClient[] = [];
  after(async () => { await Promise.all(pahos.map((p) => p.stop())); });

  it("receives a device's status and result, and its cmd/req reaches the device stamped; two of them with empty client ids coexist", async () => {
    const [p1, p2] = [PahoClient.start(hub, A.user), PahoClient.start(hub, A.user)];
    pahos.push(p1, p2);
    for (const p of [p1, p2]) assert.equal((await p.next((e) => e.event === 'connack', 'CONNACK')).rc, 0);
    p1.send({ op: 'subscribe', filters: ['devices/+/status', 'devices/+/cmd/res/+', '#', '$SYS/#'] });
    assert.deepEqual((await p1.next((e) => e.event === 'suback', 'SUBACK')).granted, [1, 1, 128, 128]);
    p2.send({ op: 'subscribe', filters: ['devices/pi-a1/status'] });
    assert.deepEqual((await p2.next((e) => e.event === 'suback', 'SUBACK')).granted, [1]);

    const s = status(true);
    await publish(pi.client, 'devices/pi-a1/status', s);
    for (const p of [p1, p2]) {
      const m = await p.next((e) => e.event === 'message' && e.topic === 'devices/pi-a1/status' && e.retain === false, 'the live status');
      assert.deepEqual(JSON.parse(m.payload as string), s);
    }

    const id = 'paho-1';
    p1.send({ op: 'publish', topic: 'devices/pi-a1/cmd/req', payload: JSON.stringify({ v: 1, id, module: 'core', command: 'update', by: 'mallory' }) });
    await p1.next((e) => e.event === 'puback', 'PUBACK');
    assert.deepEqual(await requestSeen(id), { v: 1, id, module: 'core', command: 'update', by: 'alice' });

    await publish(pi.client, `devices/pi-a1/cmd/res/${id}`, cmdResult(id, { stdout: 'done\n' }));
    const res = await p1.next((e) => e.event === 'message' && e.topic === `devices/pi-a1/cmd/res/${id}`, 'the result');
    assert.deepEqual(JSON.parse(res.payload as string), cmdResult(id, { stdout: 'done\n' }));
    assert.equal(p1.events.some((e) => e.event === 'disconnect') || p2.events.some((e) => e.event === 'disconnect'), false, 'a client was disconnected');
  });

  it("bob's paho client sees nothing of alice's", async () => {
    const p = PahoClient.start(hub, B.user);
    pahos.push(p);
    assert.equal((await p.next((e) => e.event === 'connack', 'CONNACK')).rc, 0);
    p.send({ op: 'subscribe', filters: ['devices/#', `u/${A.id}/#`] });
    assert.deepEqual((await p.next((e) => e.event === 'suback', 'SUBACK')).granted, [1, 128]);
    await publish(pi.client, 'devices/pi-a1/status', status(true), { retain: true });
    await sleep(300);
    assert.deepEqual(p.events.filter((e) => e.event === 'message'), []);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
