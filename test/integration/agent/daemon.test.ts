// pi-agent run against a real hub: presence (online, will, SIGTERM), stats, coming back after the hub
// restarts, SIGHUP, and what the hub records for the dashboard.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StatsSchema, StatusSchema, ManifestSchema } from '../../../shared/schemas.js';
import { TestAgent } from '../../helpers/agent.js';
import { TestHub, type UserCredentials } from '../../helpers/hub.js';
import { Collector, connect } from '../../helpers/mqtt.js';
import { waitFor, withTimeout } from '../../helpers/process.js';
import type { MqttClient } from 'mqtt';

let hub: TestHub;
let key: string;
let owner: UserCredentials;
const agents: TestAgent[] = [];
const clients: MqttClient[] = [];

before(async () => {
  hub = await TestHub.start();
  await hub.addUser('alice');
  key = await hub.apiKey('alice', ['--scope', 'enroll', '--scope', 'read']);
  owner = await hub.userCert('alice');
});
after(async () => {
  for (const c of clients) c.end(true);
  for (const a of agents) await a.remove();
  await hub.stop();
});

async function watch(serial: string): Promise<Collector> {
  const c = await connect(hub, owner, { transport: 'mqtts' });
  clients.push(c);
  const col = new Collector(c);
  await withTimeout(c.subscribeAsync(`devices/${serial}/#`, { qos: 1 }), 3000, 'subscribe');
  return col;
}

async function agentFor(serial: string, config: Record<string, unknown> = {}): Promise<TestAgent> {
  const a = await TestAgent.connect(hub, key, serial, { config });
  agents.push(a);
  return a;
}

const parse = (s: string) => JSON.parse(s) as unknown;
const statusOf = (c: Collector, from: number) => c.messages.slice(from).filter((m) => m.topic.endsWith('/status')).map((m) => StatusSchema.parse(parse(m.payload)));

describe('pi-agent run', () => {
  test('comes online (retained), publishes its manifest and valid stats every interval', async () => {
    const a = await agentFor('pi-run-1');
    const seen = await watch('pi-run-1');
    await a.start();
    const status = StatusSchema.parse(parse((await seen.next('devices/pi-run-1/status', 10_000)).payload));
    assert.equal(status.online, true);
    const rawManifest = parse((await seen.next('devices/pi-run-1/manifest')).payload) as Record<string, unknown>;
    const manifest = ManifestSchema.parse(rawManifest);
    assert.deepEqual(Object.keys(rawManifest), ['v', 'ts', 'agentVersion', 'device', 'modules', 'doctor', 'gpio']);
    assert.deepEqual(manifest.modules.map((m) => m.id).sort(), ['core', 'doctor']);
    assert.equal(manifest.doctor, true);
    assert.deepEqual(manifest.gpio, []);
    assert.equal(manifest.device.model, 'Raspberry Pi 4 Model B Rev 1.5 (simulated)');
    await waitFor(() => seen.on('devices/pi-run-1/stats').length >= 3, 8_000, 'three stats messages');
    const stats = seen.on('devices/pi-run-1/stats').map((m) => StatsSchema.parse(parse(m.payload)));
    assert.ok(stats[2]!.ts - stats[0]!.ts >= 1500 && stats[2]!.ts - stats[0]!.ts < 4000, 'about one second apart');
    assert.equal(stats[0]!.net[0]!.iface, 'wlan0'); // --sim

    // A late subscriber gets the retained status, and the hub records it for the dashboard.
    const late = await watch('pi-run-1');
    const retained = await late.next('devices/pi-run-1/status');
    assert.equal(retained.retain, true);
    await waitFor(async () => {
      const r = await hub.request('GET', '/api/v1/devices', undefined, { authorization: `Bearer ${key}` });
      const d = (r.body as { devices: Array<{ serial: string; online: boolean; stats: unknown; manifest: unknown }> }).devices.find((x) => x.serial === 'pi-run-1');
      return d?.online === true && d.stats !== null && d.manifest !== null;
    }, 5_000, 'the hub to record status, stats and manifest');
    assert.match((await a.cliHere(['status'])).stdout, /daemon: +running \(pid \d+\), connected since/);
  });

  test('SIGTERM publishes {online:false} and exits 0', async () => {
    const a = await agentFor('pi-run-term');
    const seen = await watch('pi-run-term');
    await a.start();
    await seen.next('devices/pi-run-term/status', 10_000);
    const from = seen.messages.length;
    const exit = await a.daemon!.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
    await waitFor(() => statusOf(seen, from).some((s) => !s.online), 5_000, '{online:false}');
  });

  test('kill -9: the hub publishes the will {online:false}', async () => {
    const a = await agentFor('pi-run-kill');
    const seen = await watch('pi-run-kill');
    await a.start();
    await seen.next('devices/pi-run-kill/status', 10_000);
    const from = seen.messages.length;
    await a.daemon!.stop('SIGKILL');
    await waitFor(() => statusOf(seen, from).some((s) => !s.online), 5_000, 'the will');
    const will = statusOf(seen, from).find((s) => !s.online)!;
    assert.equal(will.agentVersion, undefined); // the will, not a goodbye the agent sent
  });

  test('the hub stopped and restarted: the agent comes back online by itself', async () => {
    const a = await agentFor('pi-run-restart', { reconnectMaxMs: 500 });
    await a.start();
    await a.daemon!.waitForLine(/pi-agent: online/, 10_000, 0);
    const before = a.daemon!.output.length;
    await hub.restart();
    clients.splice(0).forEach((c) => c.end(true)); // the hub cut them
    const seen = await watch('pi-run-restart');
    await a.daemon!.waitForLine(/pi-agent: online/, 15_000, before); // it may be back before we look
    await waitFor(() => seen.on('devices/pi-run-restart/stats').length >= 1, 5_000, 'stats after the restart');
    // On failure, say what was seen (it failed once, under load, in a CI run of the bundled agent).
    assert.equal(statusOf(seen, 0).at(-1)?.online, true, `statuses seen: ${JSON.stringify(statusOf(seen, 0))}\nagent:\n${a.daemon!.output.slice(before).join('\n')}`);
    // Its session came back with the hub (mqtt.db), so the agent did not subscribe again: a request
    // reaches it through the subscriptions the hub kept.
    const owner = clients.at(-1)!;
    await withTimeout(owner.publishAsync('devices/pi-run-restart/cmd/req', JSON.stringify({ v: 1, id: 'after-restart', module: 'core', command: 'reboot' }), { qos: 1 }), 3000, 'publish');
    const res = JSON.parse((await seen.next('devices/pi-run-restart/cmd/res/after-restart', 10_000)).payload) as { ok: boolean; stdout: string };
    assert.deepEqual([res.ok, res.stdout], [true, 'would reboot\n']);
  });

  test('after a hub crash, no device is reported online until it connects again', async () => {
    const a = await agentFor('pi-run-crash');
    await a.start();
    await a.daemon!.waitForLine(/pi-agent: online/, 10_000, 0);
    const online = async () => {
      const r = await hub.request('GET', '/api/v1/devices', undefined, { authorization: `Bearer ${key}` });
      return (r.body as { devices: Array<{ serial: string; online: boolean }> }).devices.find((d) => d.serial === 'pi-run-crash')?.online;
    };
    await waitFor(async () => (await online()) === true, 5_000, 'recorded online');
    await a.daemon!.stop('SIGKILL'); // gone, and the hub dies before it can publish the will
    await hub.restart('SIGKILL');
    clients.splice(0).forEach((c) => c.end(true));
    assert.equal(await online(), false);
  });

  test('SIGHUP reloads agent.json: a new stats interval applies without a restart', async () => {
    const a = await agentFor('pi-run-hup', { statsIntervalSec: 3600 });
    const seen = await watch('pi-run-hup');
    await a.start();
    await seen.next('devices/pi-run-hup/stats', 10_000); // the first sample goes out at once
    const count = seen.on('devices/pi-run-hup/stats').length;
    a.setConfig({ statsIntervalSec: 1, maxConcurrent: 3 });
    a.daemon!.child.kill('SIGHUP');
    await a.daemon!.waitForLine(/SIGHUP: reloading/, 5_000, 0);
    await a.daemon!.waitForLine(/agent\.json: restart pi-agent to apply maxConcurrent$/, 5_000, 0);
    await waitFor(() => seen.on('devices/pi-run-hup/stats').length >= count + 2, 6_000, 'stats at the new interval');
  });
});
