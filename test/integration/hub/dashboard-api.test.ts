// The dashboard's side of the hub over HTTP and MQTT (issue 11): logging in with a password gives an
// HttpOnly, Secure, SameSite=Strict session cookie; a change needs the page's CSRF header and the hub's
// own origin; the cookie opens the page's MQTT connection with its user's mountpoint, and logging out
// or removing the user cuts it within a second; API keys, sessions, devices, history and the audit log;
// the security headers on every route.
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { TestHub } from '../../helpers/hub.js';
import { Collector, closed, connect, end, granted, publish } from '../../helpers/mqtt.js';
import { stats, status } from '../../helpers/payloads.js';
import { waitFor, withTimeout } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

const PASSWORD = 'correct horse battery'; // what TestHub.addUser sets
let hub: TestHub;
let A: Tenant;

before(async () => {
  hub = await TestHub.start();
  A = await addTenant(hub, 'alice', ['pi-d1']);
  await addTenant(hub, 'bob', ['pi-b1']);
});
after(async () => { await hub?.stop(); });

const CSRF = { 'x-pifleet-csrf': '1' };

let logins = 0;
/** Logs in, each time from an address of its own: logins are limited per address (10, then one every 6 s). */
async function login(user = 'alice', password = PASSWORD): Promise<string> {
  const r = await hub.request('POST', '/api/v1/session', { username: user, password }, CSRF, undefined, { localAddress: `127.0.1.${++logins}` });
  assert.equal(r.status, 204, r.text);
  return /^pifleet_session=([^;]+)/.exec(String(r.headers['set-cookie']))![1]!;
}
const as = (token: string, extra: Record<string, string> = {}) => ({ cookie: `pifleet_session=${token}`, ...extra });

/** The page's MQTT connection: wss with the session cookie, no certificate. */
function pageMqtt(token: string, origin?: string): Promise<MqttClient> {
  const client = mqtt.connect(hub.wssUrl, {
    protocolVersion: 4, clientId: `page-${Math.random().toString(36).slice(2, 8)}`, reconnectPeriod: 0, connectTimeout: 5_000,
    ca: hub.caPem, servername: 'localhost',
    wsOptions: { headers: { cookie: `pifleet_session=${token}`, ...(origin ? { origin } : {}) }, ca: hub.caPem, servername: 'localhost' },
  } as mqtt.IClientOptions);
  return withTimeout(new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (e) => { client.end(true); reject(e); });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  }), 8_000, 'the page to connect');
}

describe('logging in', () => {
  it('a wrong password is refused; the right one sets an HttpOnly, Secure, SameSite=Strict cookie', async () => {
    const wrong = await hub.request('POST', '/api/v1/session', { username: 'alice', password: 'nope' }, CSRF);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['set-cookie'], undefined);
    const unknown = await hub.request('POST', '/api/v1/session', { username: 'mallory', password: 'nope' }, CSRF);
    assert.deepEqual([unknown.status, unknown.body], [401, wrong.body], 'the same answer for an unknown user');
    const r = await hub.request('POST', '/api/v1/session', { username: 'alice', password: PASSWORD }, CSRF);
    assert.equal(r.status, 204);
    assert.match(String(r.headers['set-cookie']), /^pifleet_session=[A-Za-z0-9_-]{43}; HttpOnly; Secure; SameSite=Strict; Path=\/; Max-Age=\d+$/);
    const token = /^pifleet_session=([^;]+)/.exec(String(r.headers['set-cookie']))![1]!;
    const me = await hub.request('GET', '/api/v1/me', undefined, as(token));
    assert.equal(me.status, 200);
    const body = me.body as { user: { name: string }; via: string; hub: { fingerprint: string } };
    assert.deepEqual([body.user.name, body.via, body.hub.fingerprint], ['alice', 'session', hub.fingerprint]);
    // only the hash of the token is kept
    assert.equal(hub.query('SELECT 1 FROM sessions WHERE token_hash = ?', token).length, 0);
  });

  it('a change without the CSRF header, or from another origin, is refused', async () => {
    const token = await login();
    const noHeader = await hub.request('POST', '/api/v1/apikeys', {}, as(token));
    assert.deepEqual([noHeader.status, (noHeader.body as { error: { code: string } }).error.code], [403, 'csrf']);
    const foreign = await hub.request('POST', '/api/v1/apikeys', {}, as(token, { ...CSRF, origin: 'https://evil.example' }));
    assert.deepEqual([foreign.status, (foreign.body as { error: { code: string } }).error.code], [403, 'csrf']);
    const loginCsrf = await hub.request('POST', '/api/v1/session', { username: 'alice', password: PASSWORD });
    assert.equal(loginCsrf.status, 403);
    const ok = await hub.request('POST', '/api/v1/apikeys', {}, as(token, { ...CSRF, origin: `https://127.0.0.1:${hub.port}`, host: `127.0.0.1:${hub.port}` }));
    assert.equal(ok.status, 201, ok.text);
  });
});

describe("the page's MQTT connection", () => {
  it("the cookie opens it with the user's mountpoint; logging out cuts it within a second", async () => {
    const token = await login();
    const page = new Collector(await pageMqtt(token));
    const pi = await connect(hub, device(A, 'pi-d1'), { transport: 'mqtts', clientId: 'pi-d1' });
    try {
      await granted(page.client, ['devices/#']);
      await publish(pi, 'devices/pi-d1/status', status(), { retain: true });
      await page.next('devices/pi-d1/status');
      assert.equal(page.messages.some((m) => m.topic.includes('pi-b1')), false);
      const gone = closed(page.client);
      const t0 = Date.now();
      const out = await hub.request('DELETE', '/api/v1/session', undefined, as(token, CSRF));
      assert.equal(out.status, 204);
      assert.match(String(out.headers['set-cookie']), /^pifleet_session=; .*Max-Age=0/);
      await withTimeout(gone, 2_000, 'the page connection to be cut');
      assert.ok(Date.now() - t0 < 1_000, `cut after ${Date.now() - t0} ms`);
      assert.equal((await hub.request('GET', '/api/v1/me', undefined, as(token))).status, 401);
      await assert.rejects(pageMqtt(token), /Not authorized|closed/);
    } finally {
      await end(page.client, pi);
    }
  });

  it('a WebSocket from another origin is refused, even with a valid cookie', async () => {
    const token = await login();
    await assert.rejects(pageMqtt(token, 'https://evil.example'), /403|Unexpected server response|closed/);
    const same = await pageMqtt(token, `https://127.0.0.1:${hub.port}`);
    await end(same);
  });

  it('removing the user ends its sessions and cuts its page within a second', async () => {
    await hub.addUser('carol');
    const token = await login('carol');
    const page = await pageMqtt(token);
    const gone = closed(page);
    const r = await hub.cli(['user', 'remove', 'carol']);
    assert.equal(r.code, 0, r.stderr);
    const t0 = Date.now();
    await withTimeout(gone, 2_000, 'the page connection to be cut');
    assert.ok(Date.now() - t0 < 1_200);
    assert.equal((await hub.request('POST', '/api/v1/session', { username: 'carol', password: PASSWORD }, CSRF)).status, 401);
  });
});

describe('what a session can see and do', () => {
  it('API keys: made (shown once), listed without secrets, revoked', async () => {
    const token = await login();
    const made = await hub.request('POST', '/api/v1/apikeys', { name: 'shed', uses: 1, expiresInSec: 3600 }, as(token, CSRF));
    assert.equal(made.status, 201);
    const key = made.body as { key: string; id: string; scopes: string[]; usesLeft: number };
    assert.match(key.key, /^pk_[a-z0-9]{12}_[0-9a-f]{64}$/);
    assert.deepEqual([key.scopes, key.usesLeft], [['enroll'], 1]);
    const list = await hub.request('GET', '/api/v1/apikeys', undefined, as(token));
    assert.equal(list.text.includes(key.key.slice(16)), false, 'the secret is never shown again');
    assert.ok((list.body as { keys: Array<{ id: string }> }).keys.some((k) => k.id === key.id));
    const gone = await hub.request('DELETE', `/api/v1/apikeys/${key.id}`, undefined, as(token, CSRF));
    assert.equal(gone.status, 200);
    assert.ok((await hub.request('GET', '/api/v1/apikeys', undefined, as(token))).text.includes('"revokedAt":1'));
  });

  it("devices: the list with last seen and last data apart, one Pi, its history; another user's Pi is not found", async () => {
    const token = await login();
    const pi = await connect(hub, device(A, 'pi-d1'), { transport: 'wss', clientId: 'pi-d1' });
    try {
      await publish(pi, 'devices/pi-d1/stats', stats(0.75));
      await waitFor(async () => ((await hub.request('GET', '/api/v1/devices/pi-d1/history?since=0', undefined, as(token))).body as { points?: unknown[] }).points?.length === 1, 3_000, 'a history point');
      const one = await hub.request('GET', '/api/v1/devices/pi-d1', undefined, as(token));
      const dev = (one.body as { device: { lastSeenAt: number; lastDataAt: number; stats: { cpu: { load: number } } } }).device;
      assert.equal(dev.stats.cpu.load, 0.75);
      assert.ok(dev.lastDataAt > 0 && dev.lastSeenAt >= dev.lastDataAt);
      const [point] = ((await hub.request('GET', '/api/v1/devices/pi-d1/history', undefined, as(token))).body as { points: Array<{ load: number; memUsed: number }> }).points;
      assert.deepEqual([point!.load, point!.memUsed], [0.75, 512]);
      assert.equal((await hub.request('GET', '/api/v1/devices/pi-b1', undefined, as(token))).status, 404);
    } finally {
      await end(pi);
    }
  });

  it('removing a Pi revokes its certificates and cuts it', async () => {
    const token = await login();
    const dev = await hub.enrollDevice(A.apiKey, 'pi-gone');
    const pi = await connect(hub, dev, { transport: 'mqtts', clientId: 'pi-gone' });
    const gone = closed(pi);
    const r = await hub.request('DELETE', '/api/v1/devices/pi-gone', undefined, as(token, CSRF));
    assert.deepEqual([r.status, r.body], [200, { revoked: 1 }]);
    await withTimeout(gone, 2_000, 'the Pi to be cut');
    const list = (await hub.request('GET', '/api/v1/devices', undefined, as(token))).body as { devices: Array<{ serial: string }> };
    assert.equal(list.devices.some((x) => x.serial === 'pi-gone'), false);
  });

  it('sessions are listed and ended one by one; the audit log pages back', async () => {
    const t1 = await login();
    const t2 = await login();
    const list = (await hub.request('GET', '/api/v1/sessions', undefined, as(t1))).body as { sessions: Array<{ id: string; current: boolean }> };
    const other = list.sessions.find((s) => !s.current)!;
    assert.ok(list.sessions.filter((s) => s.current).length === 1 && other);
    assert.equal((await hub.request('DELETE', `/api/v1/sessions/${other.id}`, undefined, as(t1, CSRF))).status, 204);
    const still = [await hub.request('GET', '/api/v1/me', undefined, as(t1)), await hub.request('GET', '/api/v1/me', undefined, as(t2))].map((r) => r.status);
    assert.equal(still.filter((s) => s === 401).length, 1);
    await new Promise((r) => setTimeout(r, 400)); // the audit log is written in batches
    const page1 = (await hub.request('GET', '/api/v1/audit?limit=2', undefined, as(t1))).body as { entries: Array<{ id: number; action: string }>; next: number };
    assert.equal(page1.entries.length, 2);
    assert.ok(page1.entries[0]!.id > page1.entries[1]!.id);
    const page2 = (await hub.request('GET', `/api/v1/audit?limit=2&before=${page1.next}`, undefined, as(t1))).body as { entries: Array<{ id: number }> };
    assert.ok(page2.entries[0]!.id < page1.entries[1]!.id);
    assert.equal((await hub.request('GET', '/api/v1/audit?limit=500', undefined, as(t1))).status, 400);
  });
});

describe('headers', () => {
  it('every route, answer and error carries HSTS, nosniff, DENY, no-referrer and a CSP; the page its own', async () => {
    const token = await login();
    const routes: Array<[string, string, Record<string, string>]> = [
      ['GET', '/api/v1/health', {}], ['GET', '/api/v1/ca', {}], ['GET', '/api/v1/ca/crl', {}], ['GET', '/api/v1/me', as(token)],
      ['GET', '/api/v1/devices', as(token)], ['GET', '/api/v1/nothing', {}], ['DELETE', '/api/v1/health', {}], ['GET', '/api/v1/me', {}], ['GET', '/', {}],
    ];
    for (const [method, path, headers] of routes) {
      const r = await hub.request(method, path, undefined, headers);
      const h = r.headers;
      assert.equal(h['strict-transport-security'], 'max-age=31536000', path);
      assert.equal(h['x-content-type-options'], 'nosniff', path);
      assert.equal(h['x-frame-options'], 'DENY', path);
      assert.equal(h['referrer-policy'], 'no-referrer', path);
      const csp = String(h['content-security-policy']);
      if (path === '/') {
        assert.match(csp, /default-src 'none'; script-src 'self'; style-src 'self'/);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
        assert.match(String(h['content-type']), /^text\/html/);
      } else {
        assert.equal(csp, "default-src 'none'; frame-ancestors 'none'", path);
      }
    }
  });
});

describe('the page\'s files', () => {
  it('index.html is revalidated, the hashed assets are immutable, and both go gzipped to a browser that takes it', async () => {
    const plain = await hub.request('GET', '/');
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['cache-control'], 'no-cache');
    assert.equal(plain.headers['content-encoding'], undefined, 'no gzip unless asked');
    const assets = [...plain.text.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('.js')), `the page loads its script from /assets/: ${plain.text}`);
    for (const path of ['', ...assets]) {
      const flat = await hub.request('GET', `/${path}`);
      const zipped = await hub.request('GET', `/${path}`, undefined, { 'accept-encoding': 'br;q=1, gzip;q=0.8' });
      assert.equal(zipped.headers['content-encoding'], 'gzip', path);
      assert.equal(zipped.headers.vary, 'accept-encoding', path);
      assert.ok(zipped.raw.length < flat.raw.length, `${path}: ${zipped.raw.length} bytes gzipped, ${flat.raw.length} not`);
      assert.deepEqual(gunzipSync(zipped.raw), flat.raw, path);
      if (path !== '') assert.equal(flat.headers['cache-control'], 'public, max-age=31536000, immutable', path);
    }
    const refused = await hub.request('GET', '/', undefined, { 'accept-encoding': 'gzip;q=0, identity' });
    assert.equal(refused.headers['content-encoding'], undefined, 'gzip;q=0 is a refusal');
  });
});
