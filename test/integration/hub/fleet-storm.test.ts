// Issue 14: a hub restart under a fleet. A few dozen Pis on the agent's own MQTT link (backoff with
// jitter, persistent sessions) all come back after a restart; the hub stops cleanly with them
// connected (it used to crash there: a will stored while aedes closed); returning Pis resume their TLS
// session with a ticket the hub issued before it restarted (the ticket keys are kept in the data
// directory); and beyond mqttAcceptPerSecond new connections wait their turn, or beyond the waiting
// room are deferred with 503, not lost.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { MqttLink } from '../../../agent/mqtt-link.js';
import { createLogger } from '../../../shared/log.js';
import { topics } from '../../../shared/topics.js';
import { type DeviceCredentials, TestHub } from '../../helpers/hub.js';
import { connect } from '../../helpers/mqtt.js';
import { waitFor } from '../../helpers/process.js';

const FLEET = 30;

function links(hub: TestHub, devices: DeviceCredentials[]): { all: MqttLink[]; up: Set<string> } {
  const up = new Set<string>();
  const all = devices.map((d) => {
    const link = new MqttLink({
      url: hub.wssUrl.replace('127.0.0.1', 'localhost'), clientId: d.serial,
      credentials: () => ({ key: d.key, cert: d.cert, ca: d.ca }),
      will: { topic: topics.status(d.serial), payload: () => JSON.stringify({ v: 1, online: false, ts: Date.now() }) },
      reconnectMinMs: 200, reconnectMaxMs: 2_000, refusedRetryMs: 60_000,
      log: createLogger('test-link', { write: () => true }),
      onConnect: async (client) => {
        await client.subscribeAsync([topics.cmdReq(d.serial), topics.gpioSetAll(d.serial)], { qos: 1 });
        await client.publishAsync(topics.status(d.serial), JSON.stringify({ v: 1, online: true, ts: Date.now() }), { qos: 1, retain: true });
      },
    });
    link.on('up', () => up.add(d.serial));
    link.on('down', () => up.delete(d.serial));
    link.start();
    return link;
  });
  return { all, up };
}

async function enrollFleet(hub: TestHub, n: number): Promise<DeviceCredentials[]> {
  await hub.addUser('school');
  const key = await hub.apiKey('school');
  const out: DeviceCredentials[] = [];
  for (let i = 0; i < n; i++) out.push(await hub.enrollDevice(key, `pi-${String(i).padStart(2, '0')}`));
  return out;
}

describe('a restart under a fleet', () => {
  let hub: TestHub;
  let fleet: MqttLink[] = [];
  after(async () => {
    await Promise.all(fleet.map((l) => l.stop()));
    await hub?.stop();
  });

  it(`${FLEET} Pis come back after a restart, resuming their TLS sessions; the hub stops cleanly with them connected`, async () => {
    hub = await TestHub.start();
    const devices = await enrollFleet(hub, FLEET);
    const { all, up } = links(hub, devices);
    fleet = all;
    await waitFor(() => up.size === FLEET, 30_000, 'every Pi up');
    const keys = statSync(join(hub.dataDir, 'tls', 'ticket-keys'));
    assert.equal(keys.mode & 0o777, 0o600);
    assert.equal(keys.size, 48);

    const before = hub.daemon;
    await hub.restart();
    const exit = await before.exited;
    assert.equal(exit.code, 0, `the hub exits 0 on SIGTERM with ${FLEET} persistent sessions connected:\n${before.output.slice(-15).join('\n')}`);
    assert.ok(!before.log.includes('broker not started'), 'no error while stopping');

    await waitFor(() => up.size === FLEET, 60_000, 'every Pi back after the restart');
    const connected = hub.daemon.output.filter((l) => / connected who=device:pi-\d\d /.test(l));
    const resumed = connected.filter((l) => l.includes('resumed=true'));
    assert.equal(resumed.length, connected.length, `every returning Pi resumed its TLS session:\n${connected.filter((l) => !l.includes('resumed=true')).slice(0, 3).join('\n')}`);
    assert.ok(connected.length >= FLEET);
  });

  it('beyond mqttAcceptPerSecond and its waiting room a Pi is deferred (503) and comes back when told; the API answers meanwhile', async () => {
    await Promise.all(fleet.map((l) => l.stop()));
    fleet = [];
    await hub.stop();
    // 3 a second: 3 at once, 15 waiting (5 s of the rate), the other 12 of 30 told to come back.
    hub = await TestHub.start({ config: { enrollBurst: 1000, mqttAcceptPerSecond: 3 } });
    const devices = await enrollFleet(hub, FLEET);
    const { all, up } = links(hub, devices);
    fleet = all;
    const health = await hub.request('GET', '/api/v1/health');
    assert.equal(health.status, 200);
    await waitFor(() => up.size === FLEET, 60_000, 'every Pi up in the end');
    assert.ok(hub.daemon.output.some((l) => l.includes('MQTT connections beyond the accept rate deferred')), 'some were deferred');
  });

  it('clients let in that never send CONNECT do not hold the accept gate: a Pi behind them connects within seconds', async () => {
    await Promise.all(fleet.map((l) => l.stop()));
    fleet = [];
    await hub.stop();
    // 4 a second: at most 4 let in and not yet connected. Four clients take those places and stay silent
    // after their upgrade (a far-away or stuck Pi); counted until they connect, they would hold them
    // until aedes gives up on them (30 s), and the Pi behind would wait its 10 s and be turned away.
    hub = await TestHub.start({ config: { enrollBurst: 1000, mqttAcceptPerSecond: 4 } });
    const [silentCreds, pi] = await enrollFleet(hub, 2) as [DeviceCredentials, DeviceCredentials];
    const silent = await Promise.all(Array.from({ length: 4 }, () => new Promise<WebSocket>((resolve, reject) => {
      const tlsOptions: WebSocket.ClientOptions & { servername: string } = { key: silentCreds.key, cert: silentCreds.cert, ca: hub.caPem, servername: 'localhost' };
      const ws = new WebSocket(hub.wssUrl, ['mqtt'], tlsOptions);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    })));
    try {
      const t0 = Date.now();
      const client = await connect(hub, pi, { clientId: pi.serial, clean: false });
      const ms = Date.now() - t0;
      client.end(true);
      assert.ok(ms < 5_000, `connected in ${ms} ms, not after the silent ones' places were given back`);
      assert.ok(!hub.daemon.output.some((l) => l.includes('MQTT connections beyond the accept rate deferred')), 'nobody turned away');
    } finally {
      for (const ws of silent) ws.terminate();
    }
  });
});
