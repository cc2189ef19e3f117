// Commands from a user's MQTT client, through the hub, to the agent and back: the Pi's own module
// files decide, end to end. (The shipped core.json is defused by the harness: its commands only echo.)
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { CmdResultSchema, DoctorReportSchema, ManifestSchema, type CmdResult } from '../../../shared/schemas.js';
import { TestAgent } from '../../helpers/agent.js';
import { TestHub } from '../../helpers/hub.js';
import { Collector, connect } from '../../helpers/mqtt.js';
import { sleep, waitFor, withTimeout } from '../../helpers/process.js';

const SERIAL = 'pi-remote';
let hub: TestHub;
let agent: TestAgent;
let owner: MqttClient;
let seen: Collector;
let n = 0;

before(async () => {
  hub = await TestHub.start();
  await hub.addUser('alice');
  agent = await TestAgent.connect(hub, await hub.apiKey('alice'), SERIAL, {
    config: { statsIntervalSec: 3600 },
    modules: {
      'test.json': {
        id: 'test', title: 'Test',
        commands: {
          id: { title: 'Who runs this', run: ['/usr/bin/id'] },
          say: { title: 'Say', run: ['/bin/echo', '{msg}'], params: { msg: { pattern: '^[a-z ;$()]+$' } } },
          off: { title: 'Disabled', run: ['/bin/echo', 'never'], enabled: false },
        },
      },
    },
  });
  owner = await connect(hub, await hub.userCert('alice'), { transport: 'wss' });
  seen = new Collector(owner);
  await withTimeout(owner.subscribeAsync(`devices/${SERIAL}/#`, { qos: 1 }), 3000, 'subscribe');
  await agent.start();
  await seen.next(`devices/${SERIAL}/manifest`, 10_000);
});
after(async () => {
  owner.end(true);
  await agent.remove();
  await hub.stop();
});

async function request(module: string, command: string, params?: Record<string, unknown>, id = `q${n++}`): Promise<CmdResult> {
  await withTimeout(owner.publishAsync(`devices/${SERIAL}/cmd/req`, JSON.stringify({ v: 1, id, module, command, ...(params ? { params } : {}) }), { qos: 1 }), 3000, 'publish');
  return CmdResultSchema.parse(JSON.parse((await seen.next(`devices/${SERIAL}/cmd/res/${id}`, 10_000)).payload));
}

const latestManifest = () => ManifestSchema.parse(JSON.parse(seen.on(`devices/${SERIAL}/manifest`).at(-1)!.payload));

describe('commands through the hub', () => {
  test('a command runs as its user (nobody by default here) and the log records who asked', async () => {
    const r = await request('test', 'id');
    assert.equal(r.ok, true);
    assert.match(r.stdout, /^uid=65534\(nobody\) gid=65534\(nogroup\) groups=65534\(nogroup\)\n$/);
    const log = readFileSync(join(agent.stateDir, 'commands.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const entry = log.find((e) => e.module === 'test' && e.command === 'id' && e.event === 'result');
    assert.equal(entry?.by, 'alice'); // stamped by the hub
    assert.equal(entry?.exitCode, 0);
  });

  test('an injection attempt arrives as one inert argv element', async () => {
    const r = await request('test', 'say', { msg: 'hi; $(reboot)' });
    assert.equal(r.ok, true);
    assert.equal(r.stdout, 'hi; $(reboot)\n');
  });

  test('undeclared, disabled and unknown-module requests are refused and never run', async () => {
    assert.equal((await request('test', 'rm')).error?.code, 'unknown_command');
    assert.equal((await request('test', 'off')).error?.code, 'unknown_command');
    assert.equal((await request('nope', 'id')).error?.code, 'unknown_module');
    assert.equal((await request('test', 'say', { msg: 'UPPER' })).error?.code, 'invalid_params');
    assert.ok(!latestManifest().modules.find((m) => m.id === 'test')!.commands.some((c) => c.name === 'off'));
  });

  test('a redelivered request (same id) runs once and gets its result again; a reused id gets duplicate_id', async () => {
    const first = await request('test', 'id', undefined, 'dup-1');
    assert.equal(first.ok, true);
    const results = () => seen.on(`devices/${SERIAL}/cmd/res/dup-1`).map((m) => CmdResultSchema.parse(JSON.parse(m.payload)));
    await withTimeout(owner.publishAsync(`devices/${SERIAL}/cmd/req`, JSON.stringify({ v: 1, id: 'dup-1', module: 'test', command: 'id' }), { qos: 1 }), 3000, 'publish again');
    await waitFor(() => results().length === 2, 5_000, 'the result again');
    assert.deepEqual(results()[1], first);
    await withTimeout(owner.publishAsync(`devices/${SERIAL}/cmd/req`, JSON.stringify({ v: 1, id: 'dup-1', module: 'test', command: 'say', params: { msg: 'hi' } }), { qos: 1 }), 3000, 'publish another');
    await waitFor(() => results().length === 3, 5_000, 'a refusal');
    assert.equal(results()[2]!.error?.code, 'duplicate_id');
    await sleep(500);
    assert.equal(results().length, 3, 'one answer each');
    const log = readFileSync(join(agent.stateDir, 'commands.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(log.filter((e) => e.id === 'dup-1' && e.event === 'result').map((e) => [e.command, e.exitCode, e.error]), [['id', 0, null], ['say', null, 'duplicate_id']], 'run once');
  });

  test('editing core.json to disable reboot drops it from the manifest within a second, and refuses it', async () => {
    const file = join(agent.configDir, 'modules', 'core.json');
    assert.ok(latestManifest().modules.find((m) => m.id === 'core')!.commands.some((c) => c.name === 'reboot'));
    const core = JSON.parse(readFileSync(file, 'utf8'));
    core.commands.reboot.enabled = false;
    const before = seen.on(`devices/${SERIAL}/manifest`).length;
    const edited = Date.now();
    writeFileSync(file, JSON.stringify(core, null, 2));
    await waitFor(() => seen.on(`devices/${SERIAL}/manifest`).length > before, 1_500, 'a new manifest');
    assert.ok(Date.now() - edited < 1_000, `manifest after ${Date.now() - edited} ms`);
    assert.ok(!latestManifest().modules.find((m) => m.id === 'core')!.commands.some((c) => c.name === 'reboot'));
    assert.equal((await request('core', 'reboot')).error?.code, 'unknown_command');
  });

  test('a broken file keeps the last good module in force', async () => {
    const file = join(agent.configDir, 'modules', 'test.json');
    const good = readFileSync(file, 'utf8');
    const from = agent.daemon!.output.length;
    writeFileSync(file, good.replace('"/usr/bin/id"', '"relative/id"'));
    const problem = await agent.daemon!.waitForLine(/test\.json/, 5_000, from);
    assert.match(problem.input, /module file rejected file=\S+\/test\.json path=commands\.id\.run\.0 reason="run\[0\] must be the absolute path/);
    const r = await request('test', 'id');
    assert.equal(r.ok, true, 'the last good version still runs');
    writeFileSync(file, good);
  });

  test('a GPIO set for a pin gpio.json does not list is refused on its state topic, not retained; the manifest lists no pins', async () => {
    const from = seen.messages.length;
    await withTimeout(owner.publishAsync(`devices/${SERIAL}/gpio/17/set`, JSON.stringify({ v: 1, value: 1, id: 'g1' }), { qos: 1 }), 3000, 'publish');
    const m = await seen.next(`devices/${SERIAL}/gpio/17/state`, 5_000, from);
    assert.equal(m.retain, false);
    assert.deepEqual({ ...JSON.parse(m.payload), ts: 0 }, { v: 1, ts: 0, id: 'g1', error: { code: 'unknown_pin', message: "pin 17 is not in this Pi's gpio.json" } });
    assert.deepEqual(latestManifest().gpio, []);
    assert.equal((await request('test', 'id')).ok, true, 'still answering requests');
  });

  test('the doctor runs on request and publishes its report, retained', async () => {
    const r = await request('doctor', 'run');
    assert.equal(r.ok, true);
    const report = DoctorReportSchema.parse(JSON.parse((await seen.next(`devices/${SERIAL}/doctor`)).payload));
    assert.ok(report.checks.some((c) => c.name === 'certificate' && c.status === 'pass'));
    assert.ok(report.checks.some((c) => c.name === 'hub' && c.status === 'pass'), JSON.stringify(report.checks));
    const late = new Collector(await connect(hub, await hub.userCert('alice'), { transport: 'mqtts' }));
    await late.client.subscribeAsync(`devices/${SERIAL}/doctor`);
    assert.equal((await late.next(`devices/${SERIAL}/doctor`)).retain, true);
    late.client.end(true);
  });
});
