// Issue 9: revocation other software can honour. The hub publishes a CRL signed by its issuing CA
// (GET /api/v1/ca/crl, <data-dir>/ca/crl.pem, `pi-hub ca crl`), made anew on every revocation, and
// every certificate it issues names where. Mosquitto with that CRL as its crlfile refuses a revoked
// certificate and accepts a valid one.
import assert from 'node:assert/strict';
import { chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestHub, type UserCredentials } from '../../helpers/hub.js';
import { Daemon, runProgram, waitFor } from '../../helpers/process.js';

let hub: TestHub;
let dir: string;
before(async () => {
  hub = await TestHub.start({ config: { publicUrl: 'https://hub.example:8443' } });
  await hub.addUser('alice');
  dir = mkdtempSync(join(tmpdir(), 'pifleet-crl-'));
});
after(async () => {
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** What `openssl crl -text` says of a CRL, and the serials it lists (lower-case hex). */
async function readCrl(der: Buffer): Promise<{ text: string; serials: string[] }> {
  const file = join(dir, `crl-${Date.now()}.der`);
  writeFileSync(file, der);
  const r = await runProgram('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text']);
  assert.equal(r.code, 0, r.stderr);
  return { text: r.stdout, serials: [...r.stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase()) };
}

const crlNow = async () => (await hub.request('GET', '/api/v1/ca/crl')).raw;

describe('the CRL', () => {
  let revoked: UserCredentials;
  let valid: UserCredentials;

  it('every certificate issued names the CRL at hub.json publicUrl', async () => {
    valid = await hub.userCert('alice');
    const file = join(dir, 'cert.pem');
    writeFileSync(file, valid.cert);
    const r = await runProgram('openssl', ['x509', '-in', file, '-noout', '-ext', 'crlDistributionPoints']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /URI:https:\/\/hub\.example:8443\/api\/v1\/ca\/crl/);
  });

  it('lists a certificate within a second of `pi-hub cert revoke`, signed by the issuing CA, valid for a week', async () => {
    revoked = await hub.userCert('alice');
    const before = await readCrl(await crlNow());
    assert.equal(before.serials.includes(revoked.certSerial), false);
    const r = await hub.cli(['cert', 'revoke', revoked.certSerial]);
    assert.equal(r.code, 0, r.stderr);
    let after = before;
    await waitFor(async () => (after = await readCrl(await crlNow())).serials.includes(revoked.certSerial), 3_000, 'the CRL to list the revoked certificate');
    assert.equal(after.serials.includes(valid.certSerial), false);
    assert.match(after.text, /Issuer: CN = pifleet issuing CA/);
    const next = /Next Update: (.+)/.exec(after.text)![1]!;
    const days = (new Date(next).getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, `next update in ${days} days`);
    const n = (t: string) => Number(/X509v3 CRL Number: *\n\s*(\d+)/.exec(t)![1]);
    assert.ok(n(after.text) > n(before.text), 'the CRL number grows');
    // the issuing CA's signature verifies
    writeFileSync(join(dir, 'issuing.pem'), readFileSync(join(hub.dataDir, 'ca', 'issuing.crt')));
    writeFileSync(join(dir, 'now.der'), await crlNow());
    const v = await runProgram('openssl', ['crl', '-inform', 'DER', '-in', join(dir, 'now.der'), '-CAfile', join(dir, 'issuing.pem'), '-noout']);
    assert.match(`${v.stdout}${v.stderr}`, /verify OK/);
    // the same CRL as PEM, in the data directory (for a crlfile), and from the CLI
    const pem = (await hub.request('GET', '/api/v1/ca/crl?format=pem')).text;
    assert.match(pem, /^-----BEGIN X509 CRL-----\n/);
    await waitFor(() => readFileSync(join(hub.dataDir, 'ca', 'crl.pem'), 'utf8').length > 0, 1_000, 'crl.pem');
    const out = join(dir, 'cli-crl.pem');
    const cli = await hub.cli(['ca', 'crl', '--out', out]);
    assert.equal(cli.code, 0, cli.stderr);
    const listed = await runProgram('openssl', ['crl', '-in', out, '-noout', '-text']);
    assert.match(listed.stdout, new RegExp(`Serial Number: ${revoked.certSerial.toUpperCase()}`));
  });

  it('Mosquitto with the CRL as its crlfile refuses the revoked certificate and accepts a valid one', async () => {
    const mdir = join(dir, 'mosquitto');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(mdir);
    const port = await freePort();
    writeFileSync(join(mdir, 'ca.crt'), hub.caPem);
    copyFileSync(join(hub.dataDir, 'tls', 'server.crt'), join(mdir, 'server.crt'));
    copyFileSync(join(hub.dataDir, 'tls', 'server.key'), join(mdir, 'server.key'));
    writeFileSync(join(mdir, 'crl.pem'), (await hub.request('GET', '/api/v1/ca/crl?format=pem')).text);
    writeFileSync(join(mdir, 'mosquitto.conf'), [
      'per_listener_settings false', 'allow_anonymous false', 'persistence false', 'log_dest stderr',
      `listener ${port} 127.0.0.1`, `cafile ${join(mdir, 'ca.crt')}`, `certfile ${join(mdir, 'server.crt')}`, `keyfile ${join(mdir, 'server.key')}`,
      `crlfile ${join(mdir, 'crl.pem')}`, 'require_certificate true', 'use_identity_as_username true', '',
    ].join('\n'));
    if (process.getuid?.() === 0) {
      // run as root, Mosquitto drops to its own user: hand it its (private) files
      const uid = Number((await runProgram('id', ['-u', 'mosquitto'])).stdout);
      const gid = Number((await runProgram('id', ['-g', 'mosquitto'])).stdout);
      for (const f of ['', 'ca.crt', 'server.crt', 'server.key', 'crl.pem', 'mosquitto.conf']) chownSync(join(mdir, f), uid, gid);
      chownSync(dir, uid, gid);
    }
    const mosquitto = Daemon.startProgram('/usr/sbin/mosquitto', ['-c', join(mdir, 'mosquitto.conf')], 'mosquitto');
    try {
      await waitFor(async () => canConnect(port), 5_000, 'mosquitto to listen');
      const pub = async (creds: UserCredentials) => {
        for (const [name, pem] of [['c.crt', creds.cert], ['c.key', creds.key]] as const) writeFileSync(join(dir, name), pem, { mode: 0o600 });
        return runProgram('mosquitto_pub', ['-h', 'localhost', '-p', String(port), '--cafile', join(mdir, 'ca.crt'), '--cert', join(dir, 'c.crt'),
          '--key', join(dir, 'c.key'), '-t', 'x', '-m', 'hello', '-q', '1'], { timeoutMs: 10_000 });
      };
      const ok = await pub(valid);
      assert.equal(ok.code, 0, `a valid certificate: ${ok.stderr}`);
      // the two user certificates differ only in that one is revoked
      const refused = await pub(revoked);
      assert.notEqual(refused.code, 0, 'the revoked certificate was accepted');
    } finally {
      await mosquitto.stop();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
