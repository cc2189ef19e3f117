// Who the hub refuses, and where: another CA's certificate, an expired one (recorded or not), one the
// hub never issued, a revoked one, none at all, TLS 1.2 — under each client-auth policy and over both
// transports. And a revocation by the CLI (another process) cuts the live session within a second.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { TestHub } from '../../helpers/hub.js';
import { type Transport, closed, connect, end, publish, publishRefused, tryConnect } from '../../helpers/mqtt.js';
import { type Leaf, foreignCa, hubIssuingCa, recordCert, signLeaf } from '../../helpers/pki.js';
import { withTimeout } from '../../helpers/process.js';
import { RawMqtt } from '../../helpers/raw-mqtt.js';
import { createCsr, generateKeyPair } from '../../../shared/pki.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

type Mode = 'want' | 'need' | 'none';
type Creds = { key: string; cert: string } | null;
/** 'ok': connected; 'connack5': TLS done, CONNECT refused (Not authorized); 'tls': refused during the handshake. */
type Outcome = 'ok' | 'connack5' | 'tls';

const DAY = 86_400_000;
const hubs = {} as Record<Mode, TestHub>;
const alice = {} as Record<Mode, Tenant>;
const certs = {} as Record<Mode, { foreign: Leaf; expiredRecorded: Leaf; expiredUnrecorded: Leaf; unrecorded: Leaf }>;

before(async () => {
  const started = await Promise.all((['want', 'need', 'none'] as Mode[]).map((m) => TestHub.start({ clientAuth: m })));
  const foreign = await foreignCa();
  await Promise.all((['want', 'need', 'none'] as Mode[]).map(async (mode, i) => {
    const hub = started[i]!;
    hubs[mode] = hub;
    alice[mode] = await addTenant(hub, 'alice', mode === 'want' ? ['pi-a1'] : []);
    const spiffe = `spiffe://pifleet.local/user/${alice[mode].id}`;
    const issuing = hubIssuingCa(hub.dataDir);
    const past = { notBefore: new Date(Date.now() - 3 * DAY), notAfter: new Date(Date.now() - DAY) };
    certs[mode] = {
      // the very SPIFFE id of a real user: only the issuer is wrong
      foreign: await signLeaf(foreign, { cn: 'alice', spiffe }),
      // signed with the hub's own issuing key, expired: refused by TLS whether or not the hub knows it
      expiredRecorded: await signLeaf(issuing, { cn: 'alice', spiffe, ...past }),
      expiredUnrecorded: await signLeaf(issuing, { cn: 'alice', spiffe, ...past }),
      // signed with the hub's key, valid dates, but never issued (a leaked key, a forged record): the store says no
      unrecorded: await signLeaf(issuing, { cn: 'alice', spiffe }),
    };
    recordCert(hub.dataDir, certs[mode].expiredRecorded, { kind: 'user', userId: alice[mode].id });
  }));
});
after(async () => { await Promise.all(Object.values(hubs).map((h) => h.stop())); });

function classify(r: { outcome: string; detail: string }): Outcome {
  if (r.outcome === 'connected') return 'ok';
  return /^5 .*Not authorized/.test(r.detail) ? 'connack5' : 'tls';
}

let seq = 0;
async function attempt(mode: Mode, creds: Creds, transport: Transport, tlsOpts?: tls.ConnectionOptions): Promise<{ outcome: Outcome; detail: string; clientId: string }> {
  const clientId = `refusal-${++seq}`;
  const r = await tryConnect(hubs[mode], creds, { transport, clientId, ...(tlsOpts ? { tls: tlsOpts } : {}) });
  await end(r.client);
  return { outcome: classify(r), detail: r.detail, clientId };
}

/** The reason the hub logged for refusing this client id. */
async function loggedReason(mode: Mode, clientId: string): Promise<string> {
  const m = await hubs[mode].daemon.waitForLine(new RegExp(`connection refused .*client=${clientId} reason=("[^"]*"|\\S+)`), 3_000, 0);
  return m[1]!.replace(/^"|"$/g, '');
}

for (const transport of ['wss', 'mqtts'] as Transport[]) {
  describe(`over ${transport}`, () => {
    // [case, credentials, outcome under want, need, none, reason logged under want (CONNACK refusals)]
    const rows: Array<[string, (m: Mode) => Creds, Record<Mode, Outcome>, RegExp | null]> = [
      ['a valid user certificate', (m) => alice[m].user, { want: 'ok', need: 'ok', none: 'connack5' }, null],
      ['a certificate from another CA', (m) => certs[m].foreign, { want: 'connack5', need: 'tls', none: 'connack5' }, /UNABLE_TO_VERIFY_LEAF_SIGNATURE/],
      ['an expired certificate the hub recorded', (m) => certs[m].expiredRecorded, { want: 'connack5', need: 'tls', none: 'connack5' }, /CERT_HAS_EXPIRED/],
      ['an expired certificate the hub never recorded', (m) => certs[m].expiredUnrecorded, { want: 'connack5', need: 'tls', none: 'connack5' }, /CERT_HAS_EXPIRED/],
      ["a certificate signed with the hub's key but never issued", (m) => certs[m].unrecorded, { want: 'connack5', need: 'connack5', none: 'connack5' }, /was not issued by this hub/],
      ['no certificate', () => null, { want: 'connack5', need: 'tls', none: 'connack5' }, /no client certificate/],
    ];
    for (const [name, creds, want, reason] of rows) {
      it(`${name}: ${Object.entries(want).map(([m, o]) => `${m} → ${o}`).join(', ')}`, async () => {
        const got = {} as Record<Mode, Outcome>;
        const details: string[] = [];
        for (const mode of ['want', 'need', 'none'] as Mode[]) {
          const r = await attempt(mode, creds(mode), transport);
          got[mode] = r.outcome;
          details.push(`${mode}: ${r.detail}`);
          if (mode === 'want' && reason) assert.match(await loggedReason('want', r.clientId), reason);
        }
        assert.deepEqual(got, want, details.join('\n'));
      });
    }

    it('a device connecting with a client id other than its serial is refused', async () => {
      const r = await attempt('want', device(alice.want, 'pi-a1'), transport);
      assert.equal(r.outcome, 'connack5');
      assert.match(await loggedReason('want', r.clientId), /client id must be its serial pi-a1/);
    });

    it('a missing certificate under need is refused by TLS itself (certificate required alert)', async () => {
      const r = await attempt('need', null, transport);
      assert.match(r.detail, /CERTIFICATE_REQUIRED|certificate required/);
    });

    it('TLS 1.2 is refused on every policy, with a valid certificate', async () => {
      for (const mode of ['want', 'need', 'none'] as Mode[]) {
        const r = await attempt(mode, alice[mode].user, transport, { maxVersion: 'TLSv1.2' });
        assert.equal(r.outcome, 'tls', `${mode}: ${r.detail}`);
        assert.match(r.detail, /protocol version/);
      }
    });

    it('a certificate revoked with `pi-hub cert revoke` is refused, under want and need', async () => {
      for (const mode of ['want', 'need'] as Mode[]) {
        const hub = hubs[mode];
        const user = await hub.userCert('alice');
        assert.equal((await attempt(mode, user, transport)).outcome, 'ok');
        // under need, the serial as an operator may paste it: upper case, colon-separated
        const serial = mode === 'need' ? user.certSerial.toUpperCase().match(/../g)!.join(':') : user.certSerial;
        const r = await hub.cli(['cert', 'revoke', serial]);
        assert.equal(r.code, 0, r.stderr);
        const after = await attempt(mode, user, transport);
        assert.equal(after.outcome, 'connack5', after.detail);
        if (mode === 'want') assert.match(await loggedReason('want', after.clientId), /is revoked/);
      }
    });

    it('revoking a certificate with the CLI cuts its live session within a second', async (t) => {
      const hub = hubs.want;
      const user = await hub.userCert('alice');
      const c = await connect(hub, user, { transport });
      const gone = closed(c);
      let closedAt = 0;
      void gone.then(() => { closedAt = Date.now(); });
      const r = await hub.cli(['cert', 'revoke', user.certSerial]);
      const exitedAt = Date.now();
      assert.equal(r.code, 0, r.stderr);
      await withTimeout(gone, 3_000, 'the revoked session to close');
      assert.ok(closedAt - exitedAt < 1_000, `closed ${closedAt - exitedAt} ms after the CLI exited`);
      t.diagnostic(`session closed ${closedAt - exitedAt} ms after the CLI exited`);
    });

    it('revoking an API key with the CLI cuts the live sessions of the devices it enrolled, refuses them after, and refuses the key', async (t) => {
      const hub = hubs.want;
      const key = await hub.apiKey('alice');
      const serial = `pi-key-${transport}`;
      const dev = await hub.enrollDevice(key, serial);
      const c = await connect(hub, dev, { transport, clientId: serial });
      const gone = closed(c);
      let closedAt = 0;
      void gone.then(() => { closedAt = Date.now(); });
      const keyId = /^pk_([a-z0-9]{12})_/.exec(key)![1]!;
      const r = await hub.cli(['apikey', 'revoke', keyId]);
      const exitedAt = Date.now();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /1 device certificate/);
      await withTimeout(gone, 3_000, 'the device session to close');
      assert.ok(closedAt - exitedAt < 1_000, `closed ${closedAt - exitedAt} ms after the CLI exited`);
      t.diagnostic(`session closed ${closedAt - exitedAt} ms after the CLI exited`);
      const again = await attempt('want', dev, transport);
      assert.equal(again.outcome, 'connack5');
      assert.match(await loggedReason('want', again.clientId), /is revoked/);
      await assert.rejects(hub.enrollDevice(key, `${serial}-again`), /401/);
      // the devices enrolled with other keys are untouched
      const ok = await tryConnect(hub, device(alice.want, 'pi-a1'), { transport, clientId: 'pi-a1' });
      assert.equal(ok.outcome, 'connected', ok.detail);
      await end(ok.client);
    });
  });
}

describe('revocation by the hub itself', () => {
  it('re-enrolling a serial cuts the live session of every certificate it replaces, also one already renewed', async () => {
    const hub = hubs.want;
    const key = await hub.apiKey('alice');
    const first = await hub.enrollDevice(key, 'pi-renewed');
    const c = await connect(hub, first, { transport: 'mqtts', clientId: 'pi-renewed' });
    const gone = closed(c);
    // renewal: a second certificate; the session stays on the first, which stays valid until the second is used
    const kp = await generateKeyPair();
    const renewed = await hub.request('POST', '/api/v1/renew', { csr: await createCsr('pi-renewed', kp.keys) }, {}, first);
    assert.equal(renewed.status, 201, JSON.stringify(renewed.body));
    // the Pi is enrolled again (say, reinstalled): both earlier certificates are revoked in one go
    const t0 = Date.now();
    await hub.enrollDevice(key, 'pi-renewed');
    await withTimeout(gone, 3_000, 'the session on the replaced certificate to close');
    assert.ok(Date.now() - t0 < 1_500, `closed ${Date.now() - t0} ms after the enrollment`);
    const r = await tryConnect(hub, first, { transport: 'mqtts', clientId: 'pi-renewed' });
    assert.equal(classify(r), 'connack5', r.detail);
  });
});

describe('certificate expiry', () => {
  it("ends a device's live session when its certificate expires, and the device is refused after", async (t) => {
    const hub = await TestHub.start({ env: { PI_HUB_TEST_DEVICE_CERT_SECONDS: '3' } });
    try {
      const carol = await addTenant(hub, 'carol', ['pi-short']);
      const dev = device(carol, 'pi-short');
      const notAfter = new Date(new X509Certificate(dev.cert).validTo).getTime();
      const c = await connect(hub, dev, { transport: 'mqtts', clientId: 'pi-short' });
      await withTimeout(closed(c), 8_000, 'the session to end at expiry');
      const late = Date.now() - notAfter;
      t.diagnostic(`closed ${late} ms after notAfter`);
      assert.ok(late >= -50 && late < 1_500, `closed ${late} ms after notAfter`);
      const r = await tryConnect(hub, dev, { transport: 'mqtts', clientId: 'pi-short' });
      assert.equal(classify(r), 'connack5', r.detail);
      assert.match(hub.daemon.log, /credential expired, closing its connection credential=cert:/);
    } finally {
      await hub.stop();
    }
  });
});

describe('packet size', () => {
  /** A CONNECT fixed header declaring `length` bytes to follow (MQTT's variable byte integer, [MQTT-2.2.3]). */
  const header = (type: number, length: number) => {
    const h = [type];
    let x = length;
    do {
      let b = x % 128;
      x = Math.floor(x / 128);
      if (x > 0) b |= 0x80;
      h.push(b);
    } while (x > 0);
    return Buffer.from(h);
  };

  for (const transport of ['wss', 'mqtts'] as Transport[]) {
    it(`over ${transport}, a client without a certificate cannot make the hub buffer a huge CONNECT: it is cut at the header`, async () => {
      const raw = await RawMqtt.open(hubs.want, null, transport);
      try {
        raw.sendRaw(Buffer.concat([header(0x10, 200 * 1024 * 1024), Buffer.alloc(32 * 1024, 0x41)]));
        await raw.waitClosed(2_000);
      } finally {
        raw.close();
      }
    });

    it(`over ${transport}, an authenticated client's packet over 1 MiB closes its connection; 512 KiB passes`, async () => {
      const c = await connect(hubs.want, alice.want.user, { transport });
      try {
        await publish(c, 'devices/pi-a1/cmd/req', { v: 1, id: 'big', module: 'core', command: 'reboot', params: { p: 'x'.repeat(512 * 1024) } });
        await publishRefused(c, 'devices/pi-a1/cmd/req', { v: 1, id: 'huge', module: 'core', command: 'reboot', params: { p: 'x'.repeat(1024 * 1024) } });
      } finally {
        await end(c);
      }
    });
  }
});

describe('TLS versions, below MQTT', () => {
  const handshake = (port: number, maxVersion: tls.SecureVersion) => new Promise<string>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: hubs.want.caPem, servername: 'localhost', maxVersion, key: alice.want.user.key, cert: alice.want.user.cert });
    s.once('secureConnect', () => { resolve(s.getProtocol() ?? '?'); s.destroy(); });
    s.once('error', (e) => resolve(`error ${e.message}`));
  });
  it('both listeners speak TLS 1.3 and refuse TLS 1.2', async () => {
    for (const port of [hubs.want.port, hubs.want.mqttsPort]) {
      assert.equal(await handshake(port, 'TLSv1.3'), 'TLSv1.3');
      assert.match(await handshake(port, 'TLSv1.2'), /^error .*protocol version/);
    }
  });
  it('the API on the same port refuses TLS 1.2 too', async () => {
    const r = await new Promise<string>((resolve) => {
      https.get(`${hubs.want.httpsUrl}/api/v1/health`, { ca: hubs.want.caPem, maxVersion: 'TLSv1.2' }, (res) => resolve(`HTTP ${res.statusCode}`))
        .on('error', (e) => resolve(`error ${e.message}`));
    });
    assert.match(r, /^error .*protocol version/);
  });
});
