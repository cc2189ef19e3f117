// Issue 9: a device is (user, serial). Pi serials are not secret, so no user may block another's Pi
// from enrolling, nor learn which serials exist on the hub. And API keys: scopes (enroll by default),
// limited uses and expiry, and wrong secrets that slow down whoever sends them, not the key's owner.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestAgent } from '../../helpers/agent.js';
import { TestHub } from '../../helpers/hub.js';
import { connectCollector, end, granted, publish } from '../../helpers/mqtt.js';
import { requestId } from '../../helpers/payloads.js';
import { waitFor } from '../../helpers/process.js';
import { createCsr, generateKeyPair } from '../../../shared/pki.js';
import { CmdResultSchema } from '../../../shared/schemas.js';

const SERIAL = '10000000cafe0001';
let hub: TestHub;

/** A hub of its own per group: enrollments share one rate limit per address (10 at once). */
function withHub(): void {
  before(async () => {
    hub = await TestHub.start();
    await hub.addUser('alice');
    await hub.addUser('bob');
  });
  after(async () => { await hub?.stop(); });
}

describe('serial squatting', () => {
  withHub();
  const agents: TestAgent[] = [];
  after(async () => { for (const a of agents) await a.remove(); });

  it("bob enrolls alice's serial first; alice's Pi still enrolls; both come online in their own namespaces and neither sees the other", async () => {
    const bobPi = await TestAgent.connect(hub, await hub.apiKey('bob'), SERIAL);
    agents.push(bobPi);
    const alicePi = await TestAgent.connect(hub, await hub.apiKey('alice'), SERIAL);
    agents.push(alicePi);
    await Promise.all([bobPi.start(), alicePi.start()]);

    const alice = await connectCollector(hub, await hub.userCert('alice'), { transport: 'mqtts' });
    const bob = await connectCollector(hub, await hub.userCert('bob'), { transport: 'wss' });
    try {
      await granted(alice.client, ['devices/#']);
      await granted(bob.client, ['devices/#']);
      for (const c of [alice, bob]) {
        const s = await c.next(`devices/${SERIAL}/status`, 10_000, 0, (m) => JSON.parse(m.payload).online === true);
        assert.equal(s.retain, true);
      }
      // each user's request reaches that user's Pi only: the result names who asked
      const ids = { alice: requestId('a'), bob: requestId('b') };
      await publish(alice.client, `devices/${SERIAL}/cmd/req`, { v: 1, id: ids.alice, module: 'doctor', command: 'run' });
      await publish(bob.client, `devices/${SERIAL}/cmd/req`, { v: 1, id: ids.bob, module: 'doctor', command: 'run' });
      for (const [who, c] of [['alice', alice], ['bob', bob]] as const) {
        const r = CmdResultSchema.parse(JSON.parse((await c.next(`devices/${SERIAL}/cmd/res/${ids[who]}`, 15_000)).payload));
        assert.equal(r.ok, true, `${who}: ${JSON.stringify(r.error)}`);
      }
      assert.deepEqual(alice.on(`devices/${SERIAL}/cmd/res/${ids.bob}`), [], "alice saw bob's result");
      assert.deepEqual(bob.on(`devices/${SERIAL}/cmd/res/${ids.alice}`), [], "bob saw alice's result");
      // each Pi ran only its own user's request
      await alicePi.daemon!.waitForLine(new RegExp(`command request id=${ids.alice} by=alice`), 5_000, 0);
      await bobPi.daemon!.waitForLine(new RegExp(`command request id=${ids.bob} by=bob`), 5_000, 0);
      assert.equal(alicePi.daemon!.log.includes(ids.bob), false);
      assert.equal(bobPi.daemon!.log.includes(ids.alice), false);
    } finally {
      await end(alice.client, bob.client);
    }
    // and the device list: each sees one Pi with that serial, their own
    for (const user of ['alice', 'bob']) {
      const r = await hub.request('GET', '/api/v1/devices', undefined, {}, await hub.userCert(user));
      const list = (r.body as { devices: Array<{ serial: string; online: boolean }> }).devices;
      assert.deepEqual(list.map((x) => x.serial), [SERIAL], user);
    }
    const rows = hub.query<{ user_id: number; serial: string }>('SELECT user_id, serial FROM devices WHERE serial = ? ORDER BY user_id', SERIAL);
    assert.deepEqual(rows.map((r) => r.user_id), [Number(hub.users.get('alice')), Number(hub.users.get('bob'))]);
  });

  it("enrollment answers the same whether or not another user has the serial: nothing to probe", async () => {
    const csr = async (serial: string) => createCsr(serial, (await generateKeyPair()).keys);
    const key = await hub.apiKey('bob');
    const taken = await hub.request('POST', '/api/v1/enroll', { serial: SERIAL, csr: await csr(SERIAL) }, { authorization: `Bearer ${key}` });
    const free = await hub.request('POST', '/api/v1/enroll', { serial: 'neverseen01', csr: await csr('neverseen01') }, { authorization: `Bearer ${key}` });
    assert.deepEqual([taken.status, free.status], [201, 201]);
  });
});

describe('API keys: scopes, uses, expiry', () => {
  withHub();
  const csrFor = async (serial: string) => createCsr(serial, (await generateKeyPair()).keys);
  const enroll = async (key: string, serial: string) => hub.request('POST', '/api/v1/enroll', { serial, csr: await csrFor(serial) }, { authorization: `Bearer ${key}` });
  const devices = (key: string) => hub.request('GET', '/api/v1/devices', undefined, { authorization: `Bearer ${key}` });

  it('a key made without --scope may only enroll; one made with --scope read may read the devices', async () => {
    const enrollOnly = await hub.apiKey('alice');
    assert.equal((await enroll(enrollOnly, 'scoped-1')).status, 201);
    const refused = await devices(enrollOnly);
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, { error: { code: 'forbidden', message: 'this API key may only enroll Pis; reading devices needs a user certificate, a dashboard session, or a key made with --scope read' } });
    const reader = await hub.apiKey('alice', ['--scope', 'read']);
    assert.equal((await devices(reader)).status, 200);
    assert.equal((await enroll(reader, 'scoped-2')).status, 403, 'a read-only key may not enroll');
  });

  it('--uses 2 enrolls two Pis, then is refused as used up; apikey list shows what is left', async () => {
    const key = await hub.apiKey('alice', ['--uses', '2', '--name', 'two']);
    const id = /^pk_([a-z0-9]{12})_/.exec(key)![1]!;
    assert.equal((await enroll(key, 'use-1')).status, 201);
    let list = await hub.cli(['apikey', 'list', '--user', 'alice']);
    assert.match(list.stdout.split('\n').find((l) => l.startsWith(id))!, /^\S+\s+alice\s+two\s+enroll\s+1 left\s+never\s+.*\sactive$/);
    assert.equal((await enroll(key, 'use-2')).status, 201);
    const third = await enroll(key, 'use-3');
    assert.equal(third.status, 403);
    assert.equal((third.body as { error: { code: string } }).error.code, 'key_used_up');
    list = await hub.cli(['apikey', 'list', '--user', 'alice']);
    assert.match(list.stdout.split('\n').find((l) => l.startsWith(id))!, /\s0 left\s.*used up$/);
    assert.equal(hub.query("SELECT 1 FROM devices WHERE serial = 'use-3'").length, 0);
  });

  it('an expired key is refused with when it expired; --expires takes 30m, 24h, 7d', async () => {
    const key = await hub.apiKey('alice', ['--expires', '24h']);
    const id = /^pk_([a-z0-9]{12})_/.exec(key)![1]!;
    const [row] = hub.query<{ expires_at: number }>('SELECT expires_at FROM api_keys WHERE id = ?', id);
    assert.ok(Math.abs(row!.expires_at - (Date.now() + 86_400_000)) < 60_000);
    assert.equal((await enroll(key, 'exp-1')).status, 201);
    hub.write('UPDATE api_keys SET expires_at = ? WHERE id = ?', Date.now() - 1000, id);
    const r = await enroll(key, 'exp-2');
    assert.equal(r.status, 403);
    assert.equal((r.body as { error: { code: string } }).error.code, 'key_expired');
    assert.match((r.body as { error: { message: string } }).error.message, /^this API key expired at \d{4}-\d\d-\d\dT/);
    const bad = await hub.cli(['apikey', 'create', '--user', 'alice', '--expires', '2 days']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--expires: a duration is a number and m, h or d/);
  });

  it("wrong secrets for a key id from one address do not lock out the key's owner at another", async () => {
    const key = await hub.apiKey('alice');
    const id = /^pk_([a-z0-9]{12})_/.exec(key)![1]!;
    const wrong = `pk_${id}_${'0'.repeat(64)}`;
    let limited = false;
    for (let i = 0; i < 8 && !limited; i++) {
      const r = await hub.request('POST', '/api/v1/enroll', { serial: 'x1', csr: await csrFor('x1') }, { authorization: `Bearer ${wrong}` }, undefined, { localAddress: '127.0.0.2' });
      limited = r.status === 429;
    }
    assert.ok(limited, 'the address sending wrong secrets is slowed down');
    const owner = await enroll(key, 'owner-1');
    assert.equal(owner.status, 201, owner.text);
    await waitFor(() => hub.query("SELECT 1 FROM devices WHERE serial = 'owner-1'").length === 1, 2_000, 'the enrollment recorded');
  });
});
