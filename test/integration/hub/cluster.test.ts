// Several hub nodes on Redis (issue 13, docs/ARCHITECTURE.md "Several hub nodes"): Debian's
// redis-server started here on 127.0.0.1, two real `pi-hub serve --cluster` processes on one data
// directory, a TCP load balancer in front of them for the Pi, a real pi-agent and real MQTT clients.
// Skipped, with the reason, only where redis-server is not installed (CI installs it).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { CmdResultSchema, StatusSchema } from '../../../shared/schemas.js';
import { TestRedis, redisMissing } from '../../helpers/redis.js';
import { TestAgent } from '../../helpers/agent.js';
import { TcpBalancer } from '../../helpers/balancer.js';
import { TestHub } from '../../helpers/hub.js';
import { type Collector, closed, connect, connectCollector, end, granted, publish, tryConnect } from '../../helpers/mqtt.js';
import { cmdResult, requestId, status } from '../../helpers/payloads.js';
import { sleep, waitFor, withTimeout } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

const missing = redisMissing();
const PI = 'pi-c1';
const MODULES = { 'test.json': { id: 'test', title: 'Test', commands: { hello: { title: 'Hello', run: ['/bin/echo', 'hello from the Pi'] } } } };

let redis: TestRedis;
let A: TestHub;
let B: TestHub;
let lb: TcpBalancer;
let alice: Tenant;
let agent: TestAgent;
/** Alice's own client on node B, subscribed to everything of hers. */
let onB: Collector;
let n = 0;

async function request(user: MqttClient, id = `c${n++}`): Promise<string> {
  await publish(user, `devices/${PI}/cmd/req`, { v: 1, id, module: 'test', command: 'hello' });
  return id;
}

describe('two hub nodes on Redis', { skip: missing ?? false }, () => {
  before(async () => {
    redis = await TestRedis.start();
    A = await TestHub.start({ cluster: redis.url, config: { maxQueuedMessages: 3 } }); // hub.json, read by both nodes
    alice = await addTenant(A, 'alice', ['pi-c2', 'pi-c3', 'pi-c4', 'pi-c5']);
    B = await TestHub.start({ dataDir: A.dataDir, cluster: redis.url }); // one data directory, one hub.db
    lb = await new TcpBalancer([A.port, B.port]).listen();
    agent = await TestAgent.connect(A, alice.apiKey, PI, { modules: MODULES });
    agent.setConfig({ hub: `https://localhost:${lb.port}` }); // the Pi reaches the nodes through the balancer
    onB = await connectCollector(B, alice.user, { transport: 'wss' });
    assert.deepEqual(await granted(onB.client, ['devices/#']), [1]);
  });

  after(async () => {
    await end(onB?.client);
    await agent?.remove();
    await lb?.close();
    await B?.stop();
    await A?.stop(); // owns the data directory
    await redis?.remove();
  });

  it('a Pi on node A, its user on node B: status, manifest and stats reach B; commands go to the Pi and results come back', async () => {
    const from = A.daemon.output.length;
    await agent.start();
    await A.daemon.waitForLine(new RegExp(`connected who=device:${PI}`), 10_000, from); // the balancer chose A
    assert.equal(StatusSchema.parse(JSON.parse((await onB.next(`devices/${PI}/status`, 10_000)).payload)).online, true);
    await onB.next(`devices/${PI}/manifest`, 10_000);
    await onB.live(`devices/${PI}/stats`, 10_000);

    const id = await request(onB.client);
    const res = CmdResultSchema.parse(JSON.parse((await onB.next(`devices/${PI}/cmd/res/${id}`, 10_000)).payload));
    assert.equal(res.ok, true);
    assert.equal(res.stdout, 'hello from the Pi\n');

    // Retained messages live in Redis: a client that subscribes on B now gets what the Pi published via A.
    const late = await connectCollector(B, alice.user, { transport: 'mqtts' });
    try {
      await granted(late.client, [`devices/${PI}/status`, `devices/${PI}/manifest`]);
      const kept = await late.next(`devices/${PI}/status`, 5_000);
      assert.equal(kept.retain, true);
      assert.equal(StatusSchema.parse(JSON.parse(kept.payload)).online, true);
      assert.equal((await late.next(`devices/${PI}/manifest`, 5_000)).retain, true);
    } finally {
      await end(late.client);
    }
  });

  it('messages that overtake each other on the way between nodes all arrive', async () => {
    // A retained status waits for Redis to store it; the result published after it does not, and reaches
    // B first. aedes, which numbers packets when it makes them, took the status for a duplicate then.
    const pi = await connect(A, device(alice, 'pi-c4'), { transport: 'mqtts', clientId: 'pi-c4' });
    try {
      for (let i = 0; i < 20; i++) {
        pi.publish('devices/pi-c4/status', JSON.stringify({ v: 1, online: true, ts: 1_000 + i }), { qos: 1, retain: true });
        pi.publish(`devices/pi-c4/cmd/res/o${i}`, JSON.stringify(cmdResult(`o${i}`)), { qos: 1 });
      }
      const live = () => onB.on('devices/pi-c4/status').filter((m) => !m.retain).map((m) => JSON.parse(m.payload).ts as number);
      await waitFor(() => live().length === 20, 10_000, `20 statuses on B (${live().length} so far)`);
      assert.deepEqual([...live()].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => 1_000 + i));
    } finally {
      await end(pi);
    }
  });

  it('a revocation on node A cuts the Pi\'s session on node B within a second', async () => {
    const pi = await connect(B, device(alice, 'pi-c2'), { transport: 'mqtts', clientId: 'pi-c2' });
    const gone = closed(pi);
    const t0 = Date.now();
    const r = await A.request('DELETE', '/api/v1/devices/pi-c2', undefined, { 'x-pifleet-csrf': '1' }, alice.user);
    assert.equal(r.status, 200, r.text);
    await withTimeout(gone, 5_000, 'the session on B to close');
    const ms = Date.now() - t0;
    assert.ok(ms < 1_000, `cut after ${ms} ms`);
    await B.daemon.waitForLine(/closing connection .*reason=revoked/, 1_000, 0);
    await end(pi);
  });

  it('a Pi whose session moves from node A to node B is not marked offline by A', async () => {
    const WILL_TS = 4242;
    const will = { topic: 'devices/pi-c3/status', payload: Buffer.from(JSON.stringify({ v: 1, online: false, ts: WILL_TS })), qos: 1 as const, retain: true };
    const first = await connect(A, device(alice, 'pi-c3'), { transport: 'wss', clientId: 'pi-c3', clean: false, will });
    const online = status(true);
    await publish(first, 'devices/pi-c3/status', online, { retain: true });
    await onB.next('devices/pi-c3/status', 5_000, 0, (m) => JSON.parse(m.payload).ts === online.ts);
    // The same Pi shows up on B while A still holds its old connection (a half-open link): A closes that
    // connection, and its will — "offline" — would be a lie now.
    const fromA = A.daemon.output.length;
    const second = await connect(B, device(alice, 'pi-c3'), { transport: 'mqtts', clientId: 'pi-c3', clean: false, will });
    try {
      await withTimeout(closed(first), 5_000, 'A to close the old connection');
      await A.daemon.waitForLine(/will not published: a newer connection holds the session client=d\/\d+\/pi-c3/, 5_000, fromA);
      const late = await connectCollector(A, alice.user, { transport: 'mqtts' });
      await granted(late.client, ['devices/pi-c3/status']);
      const kept = JSON.parse((await late.next('devices/pi-c3/status', 5_000)).payload) as { ts: number; online: boolean };
      await end(late.client);
      assert.deepEqual([kept.online, kept.ts], [true, online.ts]);
      assert.equal(onB.on('devices/pi-c3/status').filter((m) => JSON.parse(m.payload).ts === WILL_TS).length, 0);
    } finally {
      await end(first, second);
    }
  });

  it('a queue is counted across nodes: requests queued via B and acknowledged on A free their places; the bound (3) still holds', async () => {
    const key = `pifleet:queue:d/${alice.id}/pi-c5`;
    const peek = new Redis(redis.url);
    const pi = await connectCollector(A, device(alice, 'pi-c5'), { transport: 'mqtts', clientId: 'pi-c5', clean: false });
    try {
      await granted(pi.client, ['devices/pi-c5/cmd/req']);
      const request = (id: string) => publish(onB.client, 'devices/pi-c5/cmd/req', { v: 1, id, module: 'core', command: 'update' });
      for (const id of Array.from({ length: 5 }, () => requestId('x'))) { // more than the bound, one at a time
        await request(id);
        await pi.next('devices/pi-c5/cmd/req', 5_000, 0, (m) => JSON.parse(m.payload).id === id);
      }
      await end(pi.client);
      await waitFor(async () => (await peek.exists(key)) === 0, 5_000, 'every acknowledgement counted');
      const away = Array.from({ length: 4 }, () => requestId('y'));
      for (const id of away) await request(id);
      const refused = JSON.parse((await onB.next(`devices/pi-c5/cmd/res/${away[3]}`, 5_000)).payload) as { error?: { code: string } };
      assert.equal(refused.error?.code, 'undeliverable');
      const back = await connectCollector(B, device(alice, 'pi-c5'), { transport: 'wss', clientId: 'pi-c5', clean: false });
      await waitFor(() => back.messages.length >= 3, 5_000, 'the queued requests');
      assert.deepEqual(back.messages.map((m) => JSON.parse(m.payload).id), away.slice(0, 3));
      assert.equal(onB.on('devices/pi-c5/cmd/res/+').length, 1);
      await end(back.client);
    } finally {
      await end(pi.client);
      peek.disconnect();
    }
  });

  it('node A dies: the Pi reconnects to B through the balancer and gets the command queued for it meanwhile', async () => {
    lb.hold(); // the Pi cannot reach any node until the command is queued
    const fromB = B.daemon.output.length;
    await A.daemon.stop('SIGKILL');
    await agent.daemon!.waitForLine(/disconnected; reconnecting/, 10_000, 0);
    const id = await request(onB.client); // queued in Redis for the Pi's persistent session
    lb.backends = [A.port, B.port]; // A's port refuses now: the balancer passes on to B
    lb.release();
    await B.daemon.waitForLine(new RegExp(`connected who=device:${PI}`), 15_000, fromB);
    const res = CmdResultSchema.parse(JSON.parse((await onB.next(`devices/${PI}/cmd/res/${id}`, 15_000)).payload));
    assert.equal(res.ok, true);
    assert.equal(res.stdout, 'hello from the Pi\n');
  });

  it('a Redis outage does not end a node: CONNECTs are refused (CONNACK 3) until Redis is back, and the node still stops when asked', async () => {
    const from = B.daemon.output.length;
    await redis.stop('SIGKILL');
    await B.daemon.waitForLine(/Redis unreachable/, 10_000, from);
    assert.equal((await B.request('GET', '/api/v1/health')).status, 200);
    const refused = await tryConnect(B, device(alice, 'pi-c4'), { transport: 'mqtts', clientId: 'pi-c4' });
    assert.equal(refused.outcome, 'refused');
    assert.match(refused.detail, /^3 |unavailable/i);
    await redis.launch(); // the same port, empty
    await B.daemon.waitForLine(/Redis reachable again/, 15_000, from);
    await waitFor(async () => {
      const r = await tryConnect(B, device(alice, 'pi-c4'), { transport: 'mqtts', clientId: 'pi-c4' });
      await end(r.client);
      return r.outcome === 'connected';
    }, 15_000, 'a device to connect once Redis is back');
    assert.ok(B.daemon.running);
    // and a node stops on SIGTERM while Redis is away (it does not wait for Redis to say goodbye)
    const again = B.daemon.output.length;
    await redis.stop('SIGKILL');
    await B.daemon.waitForLine(/Redis unreachable/, 10_000, again);
    assert.deepEqual(await B.daemon.stop('SIGTERM'), { code: 0, signal: null });
  });
});

describe('two hub nodes on Redis, persistent sessions expiring after 4 s', { skip: missing ?? false }, () => {
  let redis2: TestRedis;
  let A2: TestHub;
  let B2: TestHub;
  let bob: Tenant;
  before(async () => {
    redis2 = await TestRedis.start();
    A2 = await TestHub.start({ cluster: redis2.url, config: { sessionExpiryDays: 4_000 / 86_400_000 } });
    bob = await addTenant(A2, 'bob', ['pi-e1']);
    B2 = await TestHub.start({ dataDir: A2.dataDir, cluster: redis2.url });
  });
  after(async () => {
    await B2?.stop();
    await A2?.stop();
    await redis2?.remove();
  });

  it('a session that moved to node B is not expired by node A: a request queued while the Pi is away still reaches it', async () => {
    const pi = device(bob, 'pi-e1');
    const first = await connect(A2, pi, { transport: 'mqtts', clientId: 'pi-e1', clean: false });
    await granted(first, ['devices/pi-e1/cmd/req']);
    const second = await connect(B2, pi, { transport: 'wss', clientId: 'pi-e1', clean: false });
    await withTimeout(closed(first), 5_000, 'A to let go of the old connection');
    // Long enough for A's sweep (every 2 s) to expire a session it last saw 4 s ago — had it kept it.
    await sleep(7_000);
    await end(second);
    const user = await connect(A2, bob.user, { transport: 'mqtts' });
    const id = requestId('e');
    await publish(user, 'devices/pi-e1/cmd/req', { v: 1, id, module: 'core', command: 'update' });
    const back = await connectCollector(B2, pi, { transport: 'mqtts', clientId: 'pi-e1', clean: false });
    try {
      await back.next('devices/pi-e1/cmd/req', 5_000, 0, (m) => JSON.parse(m.payload).id === id);
    } finally {
      await end(back.client, user);
    }
  });
});
