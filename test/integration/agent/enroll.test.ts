// pi-agent connect | status | disconnect against a real hub: the failures each give one clear line and
// leave an existing identity untouched; a wrong fingerprint never reaches the hub's API.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestAgent } from '../../helpers/agent.js';
import { TestHub } from '../../helpers/hub.js';

let hub: TestHub;
let key: string;
const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'pifleet-enroll-')); dirs.push(d); return d; };
const connectArgs = (dir: string, o: { key?: string; fp?: string; serial?: string; hub?: string } = {}) => [
  'connect', '--hub', o.hub ?? `https://localhost:${hub.port}`, '--api-key', o.key ?? key, '--fingerprint', o.fp ?? hub.fingerprint,
  '--serial', o.serial ?? 'pi-enroll', '--config-dir', dir,
];
const apiLines = () => hub.daemon.output.filter((l) => /pi-hub\/api: (GET|POST) /.test(l));

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
    assert.match(r.stderr, /^pi-agent: --api-key: an API key looks like/);

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

  test('another user cannot take a serial that is still enrolled', async () => {
    const dir = tmp();
    assert.equal((await TestAgent.cli(connectArgs(dir, { serial: 'pi-owned' }))).code, 0);
    const bobKey = await hub.apiKey('bob');
    const r = await TestAgent.cli(connectArgs(tmp(), { serial: 'pi-owned', key: bobKey }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^pi-agent: serial pi-owned is enrolled by another user\n/);
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
