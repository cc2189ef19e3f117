// pi-agent connect | status | disconnect against a real hub: the failures each give one clear line and
// leave an existing identity untouched; a wrong fingerprint never reaches the hub's API, and neither
// does the API key reach a server whose certificate, though signed by the hub's CA, is not the hub's.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { x509 } from '../../../shared/pki.js';
import { TestAgent } from '../../helpers/agent.js';
import { TestHub } from '../../helpers/hub.js';
import { type LeafOptions, hubIssuingCa, signLeaf } from '../../helpers/pki.js';

let hub: TestHub;
let key: string;
const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'pifleet-enroll-')); dirs.push(d); return d; };
/** `pi-agent connect` arguments, the API key in a file beside the config directory (it never is on a command line). */
let keyFiles = 0;
const connectArgs = (dir: string, o: { key?: string; fp?: string; serial?: string; hub?: string } = {}) => {
  const file = join(tmp(), `key-${++keyFiles}`);
  writeFileSync(file, `${o.key ?? key}\n`, { mode: 0o600 });
  return [
    'connect', '--hub', o.hub ?? `https://localhost:${hub.port}`, '--api-key-file', file, '--fingerprint', o.fp ?? hub.fingerprint,
    '--serial', o.serial ?? 'pi-enroll', '--config-dir', dir,
  ];
};
const apiLines = () => hub.daemon.output.filter((l) => /pi-hub\/api: (GET|POST) /.test(l));

/**
 * A TLS server on 127.0.0.1 that presents `leaf` with the hub's real CA chain and counts what it
 * receives after the handshake: any byte is the enrollment request, API key included.
 */
async function impostor(o: LeafOptions): Promise<{ port: number; connections: () => number; received: () => number; close: () => Promise<void> }> {
  const leaf = await signLeaf(hubIssuingCa(hub.dataDir), o);
  let connections = 0;
  let received = 0;
  const server = tls.createServer({ cert: leaf.cert + hub.caPem, key: leaf.key, minVersion: 'TLSv1.3' }, (socket) => {
    socket.on('data', (d: Buffer) => { received += d.length; socket.destroy(); });
    socket.on('error', () => {});
  });
  // Counted at TCP accept: a probe that hangs up right after its handshake may never complete one here.
  server.on('connection', () => { connections++; });
  server.on('tlsClientError', () => {});
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return {
    port: (server.address() as AddressInfo).port, connections: () => connections, received: () => received,
    close: () => new Promise((res) => server.close(() => res())),
  };
}

before(async () => {
  hub = await TestHub.start();
  await hub.addUser('alice');
  await hub.addUser('bob');
  key = await hub.apiKey('alice');
});
after(async () => {
  await hub.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('pi-agent connect', () => {
  test('enrolls: key 0600 made here, certificate for the serial with its SPIFFE id, chain, agent.json, default modules', async () => {
    const dir = tmp();
    const r = await TestAgent.cli(connectArgs(dir, { serial: 'pi-first' }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /connected: this Pi is pi-first/);
    assert.match(r.stdout, /systemctl enable --now pi-agent/);
    assert.equal((await import('node:fs')).statSync(join(dir, 'key.pem')).mode & 0o777, 0o600);
    const cert = new X509Certificate(readFileSync(join(dir, 'cert.pem')));
    assert.equal(cert.subject, 'CN=pi-first');
    assert.equal(cert.subjectAltName, `URI:spiffe://pifleet.local/user/${hub.users.get('alice')}/device/pi-first`);
    const config = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8'));
    assert.deepEqual(config, { hub: `https://localhost:${hub.port}`, serial: 'pi-first', trustDomain: 'pifleet.local', userId: hub.users.get('alice') });
    assert.ok(existsSync(join(dir, 'modules', 'core.json')) && existsSync(join(dir, 'modules', 'doctor.json')));
    const status = await TestAgent.cli(['status', '--config-dir', dir]);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /serial: +pi-first/);
    assert.match(status.stdout, /certificate: valid until/);
    assert.match(status.stdout, /daemon: +not running/);
  });

  test('a wrong fingerprint is refused before the hub sees any request', async () => {
    const dir = tmp();
    const before = apiLines().length;
    const wrong = 'AB:'.repeat(31) + 'AB';
    const r = await TestAgent.cli(connectArgs(dir, { fp: wrong, serial: 'pi-wrongfp' }));
    assert.equal(r.code, 1);
    assert.equal(r.stderr.split('\n')[0], `pi-agent: the hub at https://localhost:${hub.port} does not chain to the root CA with fingerprint ${wrong}; the API key was not sent`);
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(apiLines().length, before, `the hub logged API requests: ${apiLines().slice(before).join('\n')}`);
    assert.equal(existsSync(join(dir, 'agent.json')), false);
  });

  const localNames: x509.JsonGeneralNames = [{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }];
  const impostors: [string, LeafOptions, string, (url: string) => string, RegExp][] = [
    // what, the certificate, the host in --hub, the first line of stderr, the hint
    ['a device certificate of the same CA (no serverAuth)',
      { cn: 'pi-stolen', sans: [{ type: 'url', value: 'spiffe://pifleet.local/user/1/device/pi-stolen' }, ...localNames] }, '127.0.0.1',
      (url) => `pi-agent: the hub at ${url} presents a certificate that is not a TLS server certificate (no extended key usage serverAuth); the API key was not sent`,
      /not issued to the hub \(a device or user certificate\?\): check that this address and port are the hub's/],
    ['a server certificate for other addresses',
      { cn: 'pi-hub', eku: [x509.ExtendedKeyUsage.serverAuth], sans: [{ type: 'dns', value: 'hub.example' }, { type: 'ip', value: '127.0.0.2' }, { type: 'ip', value: '::1' }] }, '127.0.0.1',
      (url) => `pi-agent: the hub at ${url} presents a certificate for hub.example, 127.0.0.2, ::1, not for 127.0.0.1; the API key was not sent`,
      /add 127\.0\.0\.1 to "serverNames" in the hub's hub\.json/],
    ['a server certificate for another host name',
      { cn: 'pi-hub', eku: [x509.ExtendedKeyUsage.serverAuth], sans: [{ type: 'dns', value: 'hub.example' }] }, 'localhost',
      (url) => `pi-agent: the hub at ${url} presents a certificate for hub.example, not for localhost; the API key was not sent`,
      /use one of those names in --hub/],
  ];
  for (const [what, leaf, host, line, hint] of impostors) {
    test(`${what} is refused before the API key is sent`, async () => {
      const server = await impostor(leaf);
      try {
        const dir = tmp();
        const url = `https://${host}:${server.port}`;
        const r = await TestAgent.cli(connectArgs(dir, { hub: url, serial: 'pi-impostor' }));
        await new Promise((res) => setTimeout(res, 200));
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stderr.split('\n')[0], line(url));
        assert.match(r.stderr.split('\n')[1] ?? '', hint);
        assert.ok(server.connections() >= 1, 'the probe reached the server');
        assert.equal(server.received(), 0, 'bytes sent after the handshake');
        assert.equal(existsSync(join(dir, 'agent.json')), false);
      } finally {
        await server.close();
      }
    });
  }

  test('the impostor fixture does see a request when the certificate passes the checks', async () => {
    const server = await impostor({ cn: 'pi-hub', eku: [x509.ExtendedKeyUsage.serverAuth], sans: localNames });
    try {
      const r = await TestAgent.cli(connectArgs(tmp(), { hub: `https://127.0.0.1:${server.port}`, serial: 'pi-impostor' }));
      assert.equal(r.code, 1);
      assert.ok(server.received() > 0, 'the enrollment request arrived, so a count of 0 above means nothing was sent');
    } finally {
      await server.close();
    }
  });

  test('bad key, revoked key, unreachable hub, bad flags: one line each and a non-zero exit', async () => {
    const dir = tmp();
    const unknown = `pk_${'a'.repeat(12)}_${'0'.repeat(64)}`;
    let r = await TestAgent.cli(connectArgs(dir, { key: unknown }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^pi-agent: the hub refused the API key: unknown or revoked API key\n/);

    const revoked = await hub.apiKey('alice');
    await hub.cli(['apikey', 'revoke', /^pk_([a-z0-9]{12})_/.exec(revoked)![1]!]);
    r = await TestAgent.cli(connectArgs(dir, { key: revoked }));
    assert.match(r.stderr, /^pi-agent: the hub refused the API key: unknown or revoked API key\n/);

    r = await TestAgent.cli(connectArgs(dir, { hub: 'https://127.0.0.1:1' }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^pi-agent: cannot reach the hub at https:\/\/127\.0\.0\.1:1: connection refused/);

    r = await TestAgent.cli(connectArgs(dir, { key: 'not-a-key' }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^pi-agent: --api-key-file: an API key looks like/);

    r = await TestAgent.cli(connectArgs(dir, { hub: 'http://localhost:1' }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^pi-agent: --hub: the hub URL must start with https:\/\//);

    r = await TestAgent.cli(['connect', '--hubb', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^pi-agent: unknown option '--hubb'/);
    assert.equal(existsSync(join(dir, 'agent.json')), false);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/); // no stack trace
  });

  test('no write access to the config dir', async () => {
    const file = join(tmp(), 'a-file');
    writeFileSync(file, '');
    const r = await TestAgent.cli(connectArgs(join(file, 'sub')));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^pi-agent: cannot write to .*a-file\/sub: /);
  });

  test('already connected: refused without --force; a failed --force leaves the identity untouched; --force replaces it', async () => {
    const dir = tmp();
    assert.equal((await TestAgent.cli(connectArgs(dir, { serial: 'pi-again' }))).code, 0);
    const files = ['key.pem', 'cert.pem', 'ca.pem', 'agent.json'].map((f) => readFileSync(join(dir, f), 'utf8'));
    let r = await TestAgent.cli(connectArgs(dir, { serial: 'pi-again' }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^pi-agent: this Pi is already connected to https:\/\/localhost:\d+ as pi-again\n.*--force/);
    r = await TestAgent.cli([...connectArgs(dir, { serial: 'pi-again', key: `pk_${'b'.repeat(12)}_${'1'.repeat(64)}` }), '--force']);
    assert.equal(r.code, 1);
    r = await TestAgent.cli([...connectArgs(dir, { serial: 'pi-again', fp: 'CD'.repeat(32) }), '--force']);
    assert.equal(r.code, 1);
    assert.deepEqual(['key.pem', 'cert.pem', 'ca.pem', 'agent.json'].map((f) => readFileSync(join(dir, f), 'utf8')), files);
    const oldSerial = new X509Certificate(files[1]!).serialNumber.toLowerCase();
    r = await TestAgent.cli([...connectArgs(dir, { serial: 'pi-again' }), '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(readFileSync(join(dir, 'key.pem'), 'utf8'), files[0]);
    // Re-enrolling by the same user revokes the old certificate.
    const list = await hub.cli(['cert', 'list', '--user', 'alice']);
    assert.match(list.stdout, new RegExp(`${oldSerial}\\s+device\\s+alice\\s+pi-again\\s+\\S+\\s+revoked`));
  });

  test('connecting again keeps the owner\'s settings; settings that would not load are refused before the hub is asked', async () => {
    const dir = tmp();
    assert.equal((await TestAgent.cli(connectArgs(dir, { serial: 'pi-settings' }))).code, 0);
    const first = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8'));
    const oldSerial = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).serialNumber.toLowerCase();
    writeFileSync(join(dir, 'agent.json'), JSON.stringify({ ...first, statsIntervalSec: 0, maxQueued: 5 }));
    const files = ['key.pem', 'cert.pem', 'ca.pem', 'agent.json'].map((f) => readFileSync(join(dir, f), 'utf8'));
    const before = apiLines().length;
    let r = await TestAgent.cli([...connectArgs(dir, { serial: 'pi-settings' }), '--force']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^pi-agent: \S+agent\.json: statsIntervalSec: .*\ncorrect \S+agent\.json, or remove it/);
    assert.equal(apiLines().length, before, `the hub was asked: ${apiLines().slice(before).join('\n')}`);
    assert.deepEqual(['key.pem', 'cert.pem', 'ca.pem', 'agent.json'].map((f) => readFileSync(join(dir, f), 'utf8')), files);
    assert.doesNotMatch((await hub.cli(['cert', 'list', '--user', 'alice'])).stdout, new RegExp(`${oldSerial}\\s+device\\s+alice\\s+pi-settings\\s+\\S+\\s+revoked`));

    writeFileSync(join(dir, 'agent.json'), JSON.stringify({ ...first, statsIntervalSec: 10, maxQueued: 5 }));
    r = await TestAgent.cli([...connectArgs(dir, { serial: 'pi-settings' }), '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')), { ...first, statsIntervalSec: 10, maxQueued: 5 });
  });

  test("another user's Pi with the same serial enrolls too, and this one's identity stays valid", async () => {
    const dir = tmp();
    assert.equal((await TestAgent.cli(connectArgs(dir, { serial: 'pi-owned' }))).code, 0);
    const mine = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).serialNumber.toLowerCase();
    const bobKey = await hub.apiKey('bob');
    const bobDir = tmp();
    const r = await TestAgent.cli(connectArgs(bobDir, { serial: 'pi-owned', key: bobKey }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(new X509Certificate(readFileSync(join(bobDir, 'cert.pem'))).subjectAltName, `URI:spiffe://pifleet.local/user/${hub.users.get('bob')}/device/pi-owned`);
    assert.match((await hub.cli(['cert', 'list', '--user', 'alice'])).stdout, new RegExp(`${mine}\\s+device\\s+alice\\s+pi-owned\\s+\\S+\\s+valid`));
  });

  describe('where the API key comes from', () => {
    const base = (dir: string, serial: string) => ['connect', '--hub', `https://localhost:${hub.port}`, '--fingerprint', hub.fingerprint, '--serial', serial, '--config-dir', dir];
    const rows: Array<[string, (dir: string) => { args: string[]; stdin?: string; env?: NodeJS.ProcessEnv }, number, RegExp]> = [
      ['standard input (--api-key -), as the README shows', (d) => ({ args: [...base(d, 'pi-stdin'), '--api-key', '-'], stdin: `${key}\n` }), 0, /^$/],
      ['$PI_AGENT_API_KEY', (d) => ({ args: base(d, 'pi-env'), env: { PI_AGENT_API_KEY: key } }), 0, /^$/],
      ['the command line: works, with a note that it stays in the history', (d) => ({ args: [...base(d, 'pi-argv'), '--api-key', key] }), 0,
        /^pi-agent: note: a key on the command line stays in the shell history and shows in ps; next time use --api-key - or --api-key-file\n$/],
      ['nowhere', (d) => ({ args: base(d, 'pi-nokey'), env: { PI_AGENT_API_KEY: '' } }), 2,
        /^pi-agent: connect needs the API key: --api-key - \(then paste it\), --api-key-file FILE or PI_AGENT_API_KEY\n/],
      ['two places at once', (d) => ({ args: [...base(d, 'pi-twice'), '--api-key', '-', '--api-key-file', '/nonexistent'] }), 2, /^pi-agent: give the API key once/],
      ['a file that is missing', (d) => ({ args: [...base(d, 'pi-nofile'), '--api-key-file', join(d, 'missing')] }), 1, /^pi-agent: cannot read the API key file \S+missing: ENOENT\n$/],
      ['a file with something else in it', (d) => { writeFileSync(join(d, 'k'), 'hunter2\n'); return { args: [...base(d, 'pi-badfile'), '--api-key-file', join(d, 'k')] }; }, 2,
        /^pi-agent: --api-key-file: an API key looks like pk_/],
    ];
    for (const [what, make, code, stderr] of rows) {
      test(what, async () => {
        const dir = tmp();
        const { args, stdin, env } = make(dir);
        const r = await TestAgent.cli(args, { stdin, env: { PI_AGENT_API_KEY: '', ...env } });
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr, stderr);
        assert.equal(existsSync(join(dir, 'agent.json')), code === 0);
      });
    }
  });

  test('disconnect asks the hub to revoke the certificate and removes the identity, keeping the modules', async () => {
    const dir = tmp();
    assert.equal((await TestAgent.cli(connectArgs(dir, { serial: 'pi-leaving' }))).code, 0);
    const serial = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).serialNumber.toLowerCase();
    const r = await TestAgent.cli(['disconnect', '--config-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /the hub revoked this Pi's certificate/);
    for (const f of ['agent.json', 'key.pem', 'cert.pem', 'ca.pem']) assert.equal(existsSync(join(dir, f)), false, f);
    assert.ok(existsSync(join(dir, 'modules', 'core.json')));
    const list = await hub.cli(['cert', 'list', '--user', 'alice']);
    assert.match(list.stdout, new RegExp(`${serial}\\s+device\\s+alice\\s+pi-leaving\\s+\\S+\\s+revoked`));
    const s = await TestAgent.cli(['status', '--config-dir', dir]);
    assert.equal(s.code, 78);
    assert.match(s.stderr, /^pi-agent: this Pi is not connected/);
  });
});
