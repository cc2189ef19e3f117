// A device certificate's line (the enrollment certificate and the chain of its renewals) has at most one
// usable certificate once a renewal is in use (issue 7, F3): a second renewal from the same certificate
// only replaces a successor that was never used (a response lost on the way to the Pi), the first use
// of a successor retires its predecessor and cuts its session, and `cert revoke` takes the whole line.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createCsr, generateKeyPair } from '../../../shared/pki.js';
import type { IssuedCertificate } from '../../../shared/schemas.js';
import { type DeviceCredentials, TestHub } from '../../helpers/hub.js';
import { closed, connect, end, tryConnect } from '../../helpers/mqtt.js';
import { sleep, withTimeout } from '../../helpers/process.js';
import { type Tenant, addTenant } from '../../helpers/tenants.js';

// One hub per test: each starts from a line of its own.
let hub: TestHub;
let alice: Tenant;

beforeEach(async () => {
  hub = await TestHub.start();
  alice = await addTenant(hub, 'alice', []);
});
afterEach(async () => { await hub?.stop(); });

interface Renewal { status: number; code: string | null; message: string | null; creds: DeviceCredentials | null }

/** POST /api/v1/renew as the agent does: a new key, a CSR with CN = serial, the current certificate over mTLS. */
async function renew(h: TestHub, from: DeviceCredentials): Promise<Renewal> {
  const kp = await generateKeyPair();
  const res = await h.request('POST', '/api/v1/renew', { csr: await createCsr(from.serial, kp.keys) }, {}, from);
  if (res.status !== 201) {
    const err = (res.body as { error?: { code?: string; message?: string } }).error;
    return { status: res.status, code: err?.code ?? null, message: err?.message ?? null, creds: null };
  }
  const body = res.body as IssuedCertificate;
  return {
    status: res.status, code: null, message: null,
    creds: { ...from, key: kp.privateKeyPem, cert: body.certificate, ca: body.chain, certSerial: new X509Certificate(body.certificate).serialNumber.toLowerCase() },
  };
}

async function renewed(h: TestHub, from: DeviceCredentials): Promise<DeviceCredentials> {
  const r = await renew(h, from);
  assert.equal(r.status, 201, `renewal: ${r.status} ${r.code} ${r.message}`);
  return r.creds!;
}

/** How an MQTT connection with these credentials ends: 'ok', or 'connack5' (refused: Not authorized). */
async function mqttOutcome(h: TestHub, creds: DeviceCredentials): Promise<string> {
  const r = await tryConnect(h, creds, { transport: 'mqtts', clientId: creds.serial });
  await end(r.client);
  return r.outcome === 'connected' ? 'ok' : /^5 .*Not authorized/.test(r.detail) ? 'connack5' : r.detail;
}

const reasonOf = (h: TestHub, serial: string) =>
  h.query<{ revoke_reason: string | null }>('SELECT revoke_reason FROM certificates WHERE serial = ?', serial)[0]?.revoke_reason;

async function stateOf(h: TestHub, serial: string): Promise<string | undefined> {
  const r = await h.cli(['cert', 'list', '--user', 'alice']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').map((l) => l.split(/\s+/)).find((cols) => cols[0] === serial)?.at(-1);
}

describe('renewal line', () => {
  it('the probe: a second renewal from the original only while the first is unused; once a renewal is used the original is retired', async () => {
    const original = await hub.enrollDevice(alice.apiKey, 'pi-line-1');
    const r1 = await renewed(hub, original);
    // R1 never reached a client: renewing again from the original is allowed and supersedes it
    const r2 = await renewed(hub, original);
    assert.equal(reasonOf(hub, r1.certSerial), 'superseded');
    assert.equal(await mqttOutcome(hub, r1), 'connack5');
    // until R2 is used, the original keeps the Pi connected
    assert.equal(await mqttOutcome(hub, original), 'ok');
    // R2 in use: the original is retired, at MQTT and for renewal
    const c = await connect(hub, r2, { transport: 'mqtts', clientId: 'pi-line-1' });
    try {
      assert.equal(reasonOf(hub, original.certSerial), 'renewed');
      assert.equal(await mqttOutcome(hub, original), 'connack5');
      const again = await renew(hub, original);
      assert.equal(again.status, 409);
      assert.equal(again.code, 'already_renewed');
      assert.match(again.message!, /already renewed/);
      assert.equal(await stateOf(hub, original.certSerial), 'renewed');
      assert.equal(await stateOf(hub, r1.certSerial), 'revoked');
      assert.equal(await stateOf(hub, r2.certSerial), 'valid');
    } finally {
      await end(c);
    }
    // R2 itself can renew (it is the line's current certificate)
    await renewed(hub, r2);
  });

  it('cert revoke takes the whole line', async () => {
    const original = await hub.enrollDevice(alice.apiKey, 'pi-line-2');
    const r1 = await renewed(hub, original); // unused: the original is still valid
    const r = await hub.cli(['cert', 'revoke', r1.certSerial]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /revoked 2 certificate\(s\)/);
    for (const creds of [original, r1]) assert.equal(await mqttOutcome(hub, creds), 'connack5');
    // once every certificate is revoked, there is nothing left to revoke
    const again = await hub.cli(['cert', 'revoke', original.certSerial]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already revoked/);
  });

  it("a live MQTT session on the original is cut within a second of the renewal's first use", async () => {
    const original = await hub.enrollDevice(alice.apiKey, 'pi-line-3');
    const c = await connect(hub, original, { transport: 'mqtts', clientId: 'pi-line-3' });
    const gone = closed(c);
    const r1 = await renewed(hub, original);
    await sleep(300);
    assert.equal(c.connected, true, 'the renewal alone cuts nothing: the response may be lost');
    // First use through the API, not MQTT: a CONNECT with the same client id would take the session over anyway.
    const t0 = Date.now();
    const res = await hub.request('GET', '/api/v1/devices', undefined, {}, r1);
    assert.equal(res.status, 403, JSON.stringify(res.body));
    await withTimeout(gone, 3_000, 'the session on the retired certificate to close');
    assert.ok(Date.now() - t0 < 1_500, `closed ${Date.now() - t0} ms after the first use`);
    assert.equal(await mqttOutcome(hub, original), 'connack5');
  });

  it('a lost renewal response: the retry from the old certificate succeeds and supersedes the lost one', async () => {
    const original = await hub.enrollDevice(alice.apiKey, 'pi-line-4');
    const lost = await renewed(hub, original); // the hub issued it; the Pi never got it
    const retry = await renewed(hub, original);
    assert.equal(reasonOf(hub, lost.certSerial), 'superseded');
    assert.equal(await mqttOutcome(hub, lost), 'connack5');
    assert.equal(await mqttOutcome(hub, retry), 'ok');
    assert.equal(await mqttOutcome(hub, original), 'connack5');
  });
});
