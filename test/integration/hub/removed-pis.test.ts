// A removed Pi leaves nothing retained in the broker's store (mqtt.db would otherwise grow with every
// Pi enrolled and removed): removed through the API, its retained messages go at once; removed with
// the CLI (a user and all their Pis), they go at the hub's next sweep — at start, and hourly.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { TestHub } from '../../helpers/hub.js';
import { connect, connectCollector, end } from '../../helpers/mqtt.js';
import { manifest, status } from '../../helpers/payloads.js';
import { sleep, waitFor } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

let hub: TestHub;
let A: Tenant;
let B: Tenant;

before(async () => {
  hub = await TestHub.start();
  A = await addTenant(hub, 'alice', ['pi-keep', 'pi-gone']);
  B = await addTenant(hub, 'bob', ['pi-bob']);
});
after(async () => { await hub?.stop(); });

/** The retained topics mqtt.db holds, read-only while the hub runs (WAL). */
function retainedTopics(): string[] {
  const db = new Database(join(hub.dataDir, 'mqtt.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT topic FROM retained ORDER BY topic').all() as Array<{ topic: string }>).map((r) => r.topic);
  } finally {
    db.close();
  }
}

async function announce(t: Tenant, serial: string): Promise<void> {
  const pi = await connect(hub, device(t, serial), { transport: 'mqtts', clientId: serial });
  await pi.publishAsync(`devices/${serial}/status`, JSON.stringify(status(true)), { qos: 1, retain: true });
  await pi.publishAsync(`devices/${serial}/manifest`, JSON.stringify(manifest(serial)), { qos: 1, retain: true });
  await end(pi);
}

describe('retained messages of removed Pis', () => {
  it('a Pi removed through the API: its retained messages are gone at once, the others stay', async () => {
    await announce(A, 'pi-keep');
    await announce(A, 'pi-gone');
    await waitFor(() => retainedTopics().filter((t) => t.startsWith(`u/${A.id}/devices/pi-gone/`)).length === 2, 3_000, 'stored');
    const login = await hub.request('POST', '/api/v1/session', { username: 'alice', password: 'correct horse battery' }, { 'x-pifleet-csrf': '1' });
    const token = /^pifleet_session=([^;]+)/.exec(String(login.headers['set-cookie']))![1]!;
    const r = await hub.request('DELETE', '/api/v1/devices/pi-gone', undefined, { cookie: `pifleet_session=${token}`, 'x-pifleet-csrf': '1' });
    assert.equal(r.status, 200);
    // the answer comes after the deletion: nothing retained for pi-gone, now or a moment later
    assert.deepEqual(retainedTopics().filter((t) => t.includes('/pi-gone/')), []);
    const watcher = await connectCollector(hub, A.user, { transport: 'mqtts' });
    await watcher.client.subscribeAsync('devices/#', { qos: 1 });
    await waitFor(() => watcher.on('devices/pi-keep/#').length >= 2, 3_000, "pi-keep's retained messages");
    await sleep(300);
    assert.deepEqual(watcher.on('devices/pi-gone/#'), [], 'a subscriber gets nothing of the removed Pi');
    assert.deepEqual(retainedTopics().filter((t) => t.includes('/pi-keep/')).length, 2);
    await end(watcher.client);
  });

  it('a user removed with the CLI: their Pis\' retained messages are gone after the next start', async () => {
    await announce(B, 'pi-bob');
    await waitFor(() => retainedTopics().some((t) => t.startsWith(`u/${B.id}/`)), 3_000, "bob's status stored");
    assert.equal((await hub.cli(['user', 'remove', 'bob'])).code, 0);
    await hub.restart();
    assert.deepEqual(retainedTopics().filter((t) => t.startsWith(`u/${B.id}/`)), []);
    assert.ok(retainedTopics().some((t) => t.startsWith(`u/${A.id}/devices/pi-keep/`)), "alice's Pi keeps its own");
  });
});
