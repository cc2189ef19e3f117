// Issue 7, F2: what one principal can make the hub keep is bounded, and every bound is a clear refusal:
// request size and parameter count, the audit log (detail truncated, retention), retained messages
// (only a device's state, each kind with a size bound), QoS 1 queues per session, persistent sessions
// per user, and sessions that never come back expire — their queued requests answered.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MAX_AUDIT_DETAIL_CHARS } from '../../../shared/limits.js';
import { type CmdResult, CmdResultSchema } from '../../../shared/schemas.js';
import { TestHub } from '../../helpers/hub.js';
import { type Collector, connect, connectCollector, connackOf, end, granted, publish, tryConnect } from '../../helpers/mqtt.js';
import { cmdResult, manifest, requestId, stats, status } from '../../helpers/payloads.js';
import { sleep, waitFor } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

const DAY_MS = 86_400_000;

async function resultOf(c: Collector, serial: string, id: string): Promise<CmdResult> {
  return CmdResultSchema.parse(JSON.parse((await c.live(`devices/${serial}/cmd/res/${id}`, 5_000)).payload));
}

const dbBytes = (hub: TestHub) => ['hub.db', 'hub.db-wal'].reduce((n, f) => { try { return n + statSync(join(hub.dataDir, f)).size; } catch { return n; } }, 0);

describe('requests, the audit log and retained messages', () => {
  let hub: TestHub;
  let A: Tenant;
  let owner: Collector;
  before(async () => {
    hub = await TestHub.start();
    A = await addTenant(hub, 'alice', ['pi-a1']);
    owner = await connectCollector(hub, A.user, { transport: 'mqtts' });
    await granted(owner.client, ['devices/+/cmd/res/+']);
  });
  after(async () => { await end(owner?.client); await hub?.stop(); });

  it("the probe's 40 requests of 882 KB to a serial that does not exist: each answered, hub.db grows by less than 1 MB (it grew 36 MB)", async (t) => {
    const params = Object.fromEntries(Array.from({ length: 220 }, (_, i) => [`p${i}`, 'x'.repeat(4000)]));
    const before = dbBytes(hub);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = requestId('big');
      ids.push(id);
      await publish(owner.client, 'devices/nosuchpi/cmd/req', { v: 1, id, module: 'core', command: 'x', params }, { timeoutMs: 10_000 });
    }
    for (const id of ids) {
      const r = await resultOf(owner, 'nosuchpi', id);
      assert.equal(r.error?.code, 'invalid_request');
      assert.match(r.error?.message ?? '', /the payload is \d+ bytes; a cmd-req message may carry at most 65536/);
    }
    await waitFor(() => hub.query("SELECT 1 FROM audit_log WHERE action = 'cmd.refused' AND detail LIKE ?", `%${ids.at(-1)}%`).length === 1, 3_000, 'the refusals audited');
    const grown = dbBytes(hub) - before;
    t.diagnostic(`hub.db grew ${grown} bytes`);
    assert.ok(grown < 1_000_000, `hub.db grew ${grown} bytes`);
  });

  it('more than 32 parameters are refused; a large valid request is forwarded whole and audited truncated', async () => {
    const id = requestId();
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, i]));
    await publish(owner.client, 'devices/pi-a1/cmd/req', { v: 1, id, module: 'core', command: 'x', params: many });
    const r = await resultOf(owner, 'pi-a1', id);
    assert.equal(r.error?.code, 'invalid_request');
    assert.match(r.error?.message ?? '', /at most 32 parameters/);

    const pi = await connectCollector(hub, device(A, 'pi-a1'), { transport: 'wss', clientId: 'pi-a1' });
    try {
      await granted(pi.client, ['devices/pi-a1/cmd/req']);
      const big = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`p${i}`, 'y'.repeat(4000)]));
      const id2 = requestId();
      await publish(owner.client, 'devices/pi-a1/cmd/req', { v: 1, id: id2, module: 'core', command: 'x', params: big });
      const got = JSON.parse((await pi.live('devices/pi-a1/cmd/req', 3_000, (m) => m.payload.includes(id2))).payload) as { params: Record<string, string> };
      assert.deepEqual(got.params, big);
      await waitFor(() => hub.query("SELECT 1 FROM audit_log WHERE action = 'cmd.req' AND detail LIKE ?", `%${id2}%`).length === 1, 3_000, 'the request audited');
      const [row] = hub.query<{ detail: string }>("SELECT detail FROM audit_log WHERE action = 'cmd.req' AND detail LIKE ?", `%${id2}%`);
      assert.ok(row!.detail.length <= MAX_AUDIT_DETAIL_CHARS, `${row!.detail.length} characters`);
      const d = JSON.parse(row!.detail) as { truncated: boolean; chars: number; head: string };
      assert.equal(d.truncated, true);
      assert.ok(d.chars > 60_000);
      assert.ok(d.head.startsWith(`{"id":"${id2}","module":"core","command":"x"`));
    } finally { await end(pi.client); }
  });

  it('a device keeps only its state retained: results and stats are never retained; an invalid status, or a result over 64 KiB a stream, is dropped', async () => {
    const pi = await connect(hub, device(A, 'pi-a1'), { transport: 'mqtts', clientId: 'pi-a1' });
    try {
      const id = requestId('ret');
      await publish(pi, `devices/pi-a1/cmd/res/${id}`, cmdResult(id, { stdout: 'z'.repeat(1000) }), { retain: true });
      await publish(pi, 'devices/pi-a1/stats', stats(0.9), { retain: true });
      await publish(pi, 'devices/pi-a1/manifest', manifest('kept'), { retain: true });
      await publish(pi, 'devices/pi-a1/status', { ...status(), agentVersion: 'ok' }, { retain: true });
      await publish(pi, 'devices/pi-a1/status', { ...status(), agentVersion: 'x'.repeat(64), pad: 'p'.repeat(2000) }, { retain: true });
      // a result bigger than the 64 KiB a stream may carry fails the schema: dropped, not delivered
      const fat = requestId('fat');
      await publish(pi, `devices/pi-a1/cmd/res/${fat}`, cmdResult(fat, { stdout: 'f'.repeat(70_000) }));
      await sleep(200);
      const late = await connectCollector(hub, A.user, { transport: 'wss' });
      try {
        await granted(late.client, ['devices/pi-a1/#']);
        await sleep(300);
        assert.deepEqual(late.messages.map((m) => m.topic).sort(), ['devices/pi-a1/manifest', 'devices/pi-a1/status']);
        assert.equal(JSON.parse(late.on('devices/pi-a1/status')[0]!.payload).agentVersion, 'ok', 'the oversized status did not replace it');
      } finally { await end(late.client); }
      assert.deepEqual(owner.on(`devices/pi-a1/cmd/res/${fat}`), []);
      assert.equal(owner.on(`devices/pi-a1/cmd/res/${id}`).length, 1, 'the retained-flagged result was delivered live');
    } finally { await end(pi); }
  });
});

describe('queues and sessions (hub.json: maxQueuedMessages 3, maxSessionsPerUser 2)', () => {
  let hub: TestHub;
  let A: Tenant;
  before(async () => {
    hub = await TestHub.start({ config: { maxQueuedMessages: 3, maxSessionsPerUser: 2 } });
    A = await addTenant(hub, 'alice', ['pi-q']);
  });
  after(async () => { await hub?.stop(); });

  it('an offline Pi\'s queue at the hub holds 3 requests; the ones beyond are answered undeliverable; the 3 are delivered when it returns', async () => {
    const pi = await connect(hub, device(A, 'pi-q'), { transport: 'wss', clientId: 'pi-q', clean: false });
    await granted(pi, ['devices/pi-q/cmd/req']);
    await end(pi);
    const owner = await connectCollector(hub, A.user, { transport: 'mqtts' });
    try {
      await granted(owner.client, ['devices/pi-q/cmd/res/+']);
      const ids = Array.from({ length: 5 }, () => requestId('q'));
      for (const id of ids) await publish(owner.client, 'devices/pi-q/cmd/req', { v: 1, id, module: 'core', command: 'update' });
      for (const id of ids.slice(3)) {
        const r = await resultOf(owner, 'pi-q', id);
        assert.equal(r.error?.code, 'undeliverable');
        assert.match(r.error?.message ?? '', /already holds 3 messages .* for the Pi pi-q/);
      }
      const back = await connectCollector(hub, device(A, 'pi-q'), { transport: 'wss', clientId: 'pi-q', clean: false });
      try {
        await waitFor(() => back.messages.length >= 3, 3_000, 'the queued requests');
        await sleep(200);
        assert.deepEqual(back.messages.map((m) => JSON.parse(m.payload).id), ids.slice(0, 3));
        assert.deepEqual(owner.on('devices/pi-q/cmd/res/+').map((m) => JSON.parse(m.payload).id), ids.slice(3));
      } finally { await end(back.client); }
    } finally { await end(owner.client); }
  });

  it('a user holds at most 2 persistent sessions: a third is refused at CONNECT, clean sessions and resuming one are not', async () => {
    const a = await connect(hub, A.user, { transport: 'mqtts', clientId: 'keep-1', clean: false });
    const b = await connect(hub, A.user, { transport: 'wss', clientId: 'keep-2', clean: false });
    await end(a, b);
    const third = await tryConnect(hub, A.user, { transport: 'mqtts', clientId: 'keep-3', clean: false });
    await end(third.client);
    assert.deepEqual([third.outcome, third.detail], ['refused', '5 Connection refused: Not authorized']);
    await hub.daemon.waitForLine(/connection refused .*client=keep-3 reason="too many persistent sessions: this user holds 2 \(at most 2\)/, 3_000, 0);
    const clean = await tryConnect(hub, A.user, { transport: 'mqtts', clientId: 'keep-3', clean: true });
    assert.equal(clean.outcome, 'connected');
    await end(clean.client);
    const resumed = await connect(hub, A.user, { transport: 'mqtts', clientId: 'keep-1', clean: false });
    assert.equal(connackOf(resumed).sessionPresent, false, 'no subscriptions: aedes says no session');
    await end(resumed);
    // a clean connect with a held id ends that session and frees its place
    await end((await tryConnect(hub, A.user, { transport: 'mqtts', clientId: 'keep-2', clean: true })).client);
    const now = await tryConnect(hub, A.user, { transport: 'mqtts', clientId: 'keep-3', clean: false });
    assert.equal(now.outcome, 'connected', now.detail);
    await end(now.client);
  });
});

describe('expiry (hub.json: sessionExpiryDays = 2 s)', () => {
  let hub: TestHub;
  let A: Tenant;
  before(async () => {
    hub = await TestHub.start({ config: { sessionExpiryDays: 2_000 / DAY_MS } });
    A = await addTenant(hub, 'alice', ['pi-x']);
  });
  after(async () => { await hub?.stop(); });

  it("a Pi that does not come back: its session expires and the requests it queued are answered undeliverable", async () => {
    const pi = await connect(hub, device(A, 'pi-x'), { transport: 'mqtts', clientId: 'pi-x', clean: false });
    await granted(pi, ['devices/pi-x/cmd/req']);
    await end(pi);
    const owner = await connectCollector(hub, A.user, { transport: 'wss' });
    try {
      await granted(owner.client, ['devices/pi-x/cmd/res/+']);
      const id = requestId('exp');
      await publish(owner.client, 'devices/pi-x/cmd/req', { v: 1, id, module: 'core', command: 'update' });
      const r = await resultOf(owner, 'pi-x', id);
      assert.equal(r.error?.code, 'undeliverable');
      assert.match(r.error?.message ?? '', /did not connect for .*its session at the hub expired/);
      await hub.daemon.waitForLine(/persistent session expired client=d\/\d+\/pi-x dropped=1/, 3_000, 0);
      const back = await connectCollector(hub, device(A, 'pi-x'), { transport: 'mqtts', clientId: 'pi-x', clean: false });
      await sleep(200);
      assert.equal(connackOf(back.client).sessionPresent, false);
      assert.deepEqual(back.messages, []);
      await end(back.client);
      await waitFor(() => hub.query("SELECT 1 FROM audit_log WHERE action = 'cmd.undeliverable' AND detail LIKE ?", `%${id}%`).length === 1, 3_000, 'audited');
    } finally { await end(owner.client); }
  });
});

describe('audit retention (hub.json: auditRetentionDays 30, auditMaxRows 1000)', () => {
  it('at start the hub drops entries older than the retention, and all but the newest 1000', async () => {
    const hub = await TestHub.start();
    await hub.addUser('alice');
    await hub.daemon.stop();
    const db = new Database(join(hub.dataDir, 'hub.db'));
    const insert = db.prepare("INSERT INTO audit_log (ts, user_id, actor, device_serial, action, detail) VALUES (?, NULL, 'test', NULL, ?, '{}')");
    db.transaction(() => {
      for (let i = 0; i < 50; i++) insert.run(Date.now() - 40 * DAY_MS, 'old');
      for (let i = 0; i < 1500; i++) insert.run(Date.now() - DAY_MS, 'recent');
    })();
    db.close();
    const again = await TestHub.start({ dataDir: hub.dataDir, config: { auditRetentionDays: 30, auditMaxRows: 1000 } });
    try {
      await again.daemon.waitForLine(/audit log pruned entries=551/, 5_000, 0);
      const n = again.query<{ action: string; n: number }>('SELECT action, COUNT(*) AS n FROM audit_log GROUP BY action ORDER BY action');
      assert.deepEqual(n, [{ action: 'recent', n: 1000 }]);
    } finally {
      await again.stop();
      await hub.stop();
    }
  });
});
