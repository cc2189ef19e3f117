// pi-hub's command line as child processes: exit codes (2 usage, 78 configuration, 1 other), the
// one-line message on bad input, and the CA commands checked against openssl and a running hub.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { TestHub, queryDataDir } from '../../helpers/hub.js';
import { connect, end, tryConnect } from '../../helpers/mqtt.js';
import { opensslCa, opensslFingerprint } from '../../helpers/pki.js';
import { HUB_CLI, type RunResult, run, runProgram } from '../../helpers/process.js';
import { addTenant, device } from '../../helpers/tenants.js';

const dirs: string[] = [];
function tempDir(prefix = 'pifleet-cli-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const hub = (args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) =>
  run(HUB_CLI, args, { timeoutMs: 20_000, ...opts });

/** Exit code and the first line of stderr: the contract for bad input. */
const failure = (r: RunResult) => ({ code: r.code, message: r.stderr.split('\n')[0] });

const PASS = 'correct horse battery staple';

/**
 * The algorithms and numbers in an encrypted key's DER, as `openssl asn1parse` names them (not our own
 * parser): a key locked with scrypt N=2^14 (0x4000), r=8, p=5, a 32-byte key (0x20), then AES-256-CBC.
 */
const SCRYPT_LOCKED = 'PBES2 scrypt 4000 08 05 20 aes-256-cbc';
async function keyEncryption(file: string): Promise<string> {
  const r = await runProgram('openssl', ['asn1parse', '-in', file]);
  assert.equal(r.code, 0, r.stderr);
  return [...r.stdout.matchAll(/prim: (?:OBJECT|INTEGER) +:(\S+)/g)].map((m) => m[1]).join(' ');
}

/** Whether `openssl pkey` decrypts the key with this passphrase. */
async function opensslDecrypts(file: string, passphrase: string): Promise<boolean> {
  return (await runProgram('openssl', ['pkey', '-in', file, '-passin', 'env:PIFLEET_PASS', '-noout'], { env: { PIFLEET_PASS: passphrase } })).code === 0;
}

/** What the CLI wrote to the audit log about the CA, oldest first; and never a passphrase. */
function caAudit(dataDir: string): Array<{ action: string; detail: unknown }> {
  const rows = queryDataDir<{ actor: string; user_id: number | null; action: string; detail: string }>(dataDir, "SELECT actor, user_id, action, detail FROM audit_log WHERE action LIKE 'ca.%' ORDER BY id");
  for (const r of rows) {
    assert.deepEqual([r.actor, r.user_id], ['cli', null]);
    assert.ok(!r.detail.includes('passphrase') && !r.detail.includes(PASS), r.detail);
  }
  return rows.map((r) => ({ action: r.action, detail: JSON.parse(r.detail) }));
}

const keyFiles = (change: string) => ({ files: [{ file: 'ca/root.key', change }, { file: 'ca/issuing.key', change }] });

describe('bad input: exit code and one line', { concurrency: 2 }, () => {
  const rows: Array<[string, (dir: string) => Promise<RunResult>, number, RegExp]> = [
    ['no command', () => hub([]), 2, /^usage:|pifleet control plane/],
    ['an unknown command', () => hub(['frobnicate']), 2, /^pi-hub: unknown command: frobnicate$/],
    ['an unknown subcommand', (d) => hub(['ca', 'frobnicate', '--data-dir', d]), 2, /^pi-hub: unknown command: ca frobnicate$/],
    ['an unknown flag', (d) => hub(['user', 'add', 'carol', '--bogus', '--data-dir', d]), 2, /^pi-hub: unknown option '--bogus'$/],
    ['a flag without its value', (d) => hub(['apikey', 'create', '--data-dir', d, '--user']), 2, /^pi-hub: .*--user/],
    ['apikey create for an unknown user', (d) => hub(['apikey', 'create', '--user', 'nobody', '--data-dir', d]), 1, /^pi-hub: unknown user nobody$/],
    ['apikey create without --user', (d) => hub(['apikey', 'create', '--data-dir', d]), 2, /^pi-hub: apikey create needs --user NAME$/],
    ['apikey revoke of an unknown key', (d) => hub(['apikey', 'revoke', 'aaaaaaaaaaaa', '--data-dir', d]), 1, /^pi-hub: unknown API key aaaaaaaaaaaa$/],
    ['an empty password on stdin', (d) => hub(['user', 'add', 'carol', '--password-stdin', '--data-dir', d], { stdin: '' }), 2, /^pi-hub: empty password on stdin$/],
    ['a lone newline as password', (d) => hub(['user', 'add', 'carol', '--password-stdin', '--data-dir', d], { stdin: '\n' }), 2, /^pi-hub: empty password on stdin$/],
    ['a short password', (d) => hub(['user', 'add', 'carol', '--password-stdin', '--data-dir', d], { stdin: 'short\n' }), 2, /^pi-hub: the password is too short/],
    ['a user name with a slash', (d) => hub(['user', 'add', 'a/b', '--data-dir', d]), 2, /^pi-hub: NAME: a user name is/],
    ['cert revoke of an unknown serial', (d) => hub(['cert', 'revoke', 'abcdef', '--data-dir', d]), 1, /^pi-hub: unknown certificate abcdef$/],
    ['cert expiring --days 0', (d) => hub(['cert', 'expiring', '--days', '0', '--data-dir', d]), 2, /^pi-hub: --days: /],
    ['cert expiring --days abc', (d) => hub(['cert', 'expiring', '--days', 'abc', '--data-dir', d]), 2, /^pi-hub: --days: /],
    ['cert issue for an unknown user', (d) => hub(['cert', 'issue', '--user', 'nobody', '--out', join(d, 'out'), '--data-dir', d]), 1, /^pi-hub: unknown user nobody$/],
    ['serve with a bad --client-auth', (d) => hub(['serve', '--client-auth', 'maybe', '--data-dir', d]), 2, /^pi-hub: --client-auth: /],
    ['serve with a bad --port', (d) => hub(['serve', '--port', '70000', '--data-dir', d]), 2, /^pi-hub: --port: /],
    ['serve with a bad PI_HUB_CLIENT_AUTH', (d) => hub(['serve', '--data-dir', d], { env: { PI_HUB_CLIENT_AUTH: 'maybe' } }), 78, /^pi-hub: PI_HUB_CLIENT_AUTH: /],
    ['serve with a --cluster that is not Redis', (d) => hub(['serve', '--cluster', 'http://127.0.0.1:6379', '--data-dir', d]), 2, /^pi-hub: --cluster: redis:\/\/ or rediss:\/\/ only, not http:\/\/$/],
    ['serve with a bad --cluster holding a password (never repeated)', (d) => hub(['serve', '--cluster', 'redis://:s3cret@127.0.0.1:6379?db=1', '--data-dir', d]), 2, /^pi-hub: --cluster: no query or fragment: redis:\/\/\[USER:PASSWORD@\]HOST:PORT\[\/DB\]$/],
    ['serve with a bad PI_HUB_CLUSTER', (d) => hub(['serve', '--data-dir', d], { env: { PI_HUB_CLUSTER: '127.0.0.1:6379' } }), 78, /^pi-hub: PI_HUB_CLUSTER: /],
    ['serve with a bad cluster in hub.json', (d) => { writeFileSync(join(d, 'hub.json'), '{"cluster": "redis://h:6379/99"}'); return hub(['serve', '--data-dir', d]); }, 78, /^pi-hub: hub\.json cluster: the path may only name a database, \/0 to \/15$/],
    ['serve --cluster where no Redis listens', (d) => hub(['serve', '--cluster', 'redis://127.0.0.1:1', '--port', '0', '--mqtts-port', '0', '--data-dir', d]), 1, /^pi-hub: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/],
    ['a flag wins over a bad environment variable', (d) => hub(['serve', '--port', '70000', '--data-dir', d], { env: { PI_HUB_PORT: 'x' } }), 2, /^pi-hub: --port: /],
    ['ca lock with a passphrase file that is missing', (d) => hub(['ca', 'lock', '--passphrase-file', join(d, 'nope'), '--data-dir', d]), 78, /^pi-hub: cannot read the CA passphrase file .*\/nope: ENOENT$/],
    ['a data directory under /proc that cannot be made', () => hub(['ca', 'fingerprint', '--data-dir', '/proc/1/nope']), 78, /^pi-hub: cannot use data directory \/proc\/1\/nope: /],
    ['serve on a data directory under /proc', () => hub(['serve', '--data-dir', '/proc/1/nope/deeper', '--port', '0', '--mqtts-port', '0']), 78, /^pi-hub: cannot use data directory \/proc\/1\/nope\/deeper: /],
    ['a data directory that is a file', (d) => { writeFileSync(join(d, 'file'), 'x'); return hub(['user', 'add', 'carol', '--data-dir', join(d, 'file')]); }, 78, /^pi-hub: data directory .*\/file is not a directory$/],
    ['serve on a data directory that is a file', (d) => { writeFileSync(join(d, 'file'), 'x'); return hub(['serve', '--data-dir', join(d, 'file'), '--port', '0', '--mqtts-port', '0']); }, 78, /^pi-hub: data directory .*\/file is not a directory$/],
    ['a config file that is not JSON', (d) => { writeFileSync(join(d, 'hub.json'), '{'); return hub(['serve', '--data-dir', d]); }, 78, /^pi-hub: .*hub\.json: /],
    ['a config file with an unknown key', (d) => { writeFileSync(join(d, 'hub.json'), '{"prot": 1}'); return hub(['serve', '--data-dir', d]); }, 78, /^pi-hub: .*hub\.json: /],
  ];
  for (const [name, cmd, code, message] of rows) {
    it(`${name} → exit ${code}`, async () => {
      const r = await cmd(tempDir());
      assert.equal(r.code, code, `${r.stdout}\n${r.stderr}`);
      const first = code === 2 && name === 'no command' ? r.stdout.split('\n')[0]! : failure(r).message!;
      assert.match(first, message);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace without --debug');
    });
  }

  it('a duplicate user → exit 1, and the first user is untouched', async () => {
    const d = tempDir();
    const first = await hub(['user', 'add', 'carol', '--password-stdin', '--data-dir', d], { stdin: `${PASS}\n` });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^added user carol \(id 1\)$/m);
    const again = await hub(['user', 'add', 'carol', '--password-stdin', '--data-dir', d], { stdin: `${PASS}\n` });
    assert.deepEqual(failure(again), { code: 1, message: 'pi-hub: user carol already exists' });
  });

  it('--help → exit 0 with the usage of what it follows: everything, a group, one command', async () => {
    const rows: Array<[string[], RegExp, RegExp | null]> = [
      [['--help'], /^pi-hub .* the pifleet control plane\n\nusage:\n  pi-hub serve /, null],
      [['apikey', '--help'], /^usage:\n  pi-hub apikey create --user NAME/, /pi-hub serve|pi-hub cert/],
      [['user', 'add', '--help'], /^usage:\n  pi-hub user add NAME \[--password-stdin\] \[--admin\]/, /pi-hub serve|apikey/],
      [['cert', 'issue', '--help'], /^usage:\n  pi-hub cert issue --user NAME --out DIR \[--p12\].*\n\n--p12 also writes a PKCS#12 file/s, /cert revoke/],
      [['ca', 'lock', '-h'], /^usage:\n  pi-hub ca lock \[--passphrase-file F\]/, /ca unlock/],
      [['serve', '--help'], /^usage:\n  pi-hub serve \[--data-dir DIR\]/, /pi-hub demo/],
    ];
    for (const [args, shows, not] of rows) {
      const r = await hub(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, shows, args.join(' '));
      if (not) assert.doesNotMatch(r.stdout, not, args.join(' '));
    }
  });

  it('an unknown command of a group: exit 2 and that group\'s usage', async () => {
    const r = await hub(['apikey', 'rotate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^pi-hub: unknown command: apikey rotate\nusage:\n  pi-hub apikey create/);
  });
});

describe('ca fingerprint, ca root', () => {
  it('the fingerprint is what openssl computes from `ca root`', async () => {
    const d = tempDir();
    const root = await hub(['ca', 'root', '--data-dir', d]);
    assert.equal(root.code, 0, root.stderr);
    assert.match(root.stdout, /^-----BEGIN CERTIFICATE-----\n/);
    const file = join(d, 'root.pem');
    writeFileSync(file, root.stdout);
    const fp = await hub(['ca', 'fingerprint', '--data-dir', d]);
    assert.equal(fp.code, 0, fp.stderr);
    assert.equal(fp.stdout.trim(), await opensslFingerprint(file));
    assert.match(fp.stdout.trim(), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
});

describe('ca lock, ca unlock', () => {
  it('serve refuses to start without the passphrase (exit 78, a clear message), starts with PI_HUB_CA_PASSPHRASE; unlock undoes it', async () => {
    const d = tempDir();
    assert.equal((await hub(['ca', 'fingerprint', '--data-dir', d])).code, 0); // makes the CA
    const short = await hub(['ca', 'lock', '--data-dir', d], { env: { PI_HUB_CA_PASSPHRASE: 'short' } });
    assert.deepEqual(failure(short), { code: 2, message: 'pi-hub: the passphrase is too short (at least 12 characters)' });
    const none = await hub(['ca', 'lock', '--data-dir', d], { env: { PI_HUB_CA_PASSPHRASE: '' } });
    assert.equal(none.code, 2);

    assert.deepEqual(caAudit(d), []); // refusals change nothing and are not recorded

    const lock = await hub(['ca', 'lock', '--data-dir', d], { env: { PI_HUB_CA_PASSPHRASE: PASS } });
    assert.equal(lock.code, 0, lock.stderr);
    assert.equal(lock.stdout, 'locked 2 CA key(s)\n');
    for (const k of ['root.key', 'issuing.key']) {
      const file = join(d, 'ca', k);
      assert.match(readFileSync(file, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      assert.equal(await keyEncryption(file), SCRYPT_LOCKED, k);
      assert.equal(await opensslDecrypts(file, PASS), true, k);
      assert.equal(await opensslDecrypts(file, 'not the passphrase'), false, k);
    }
    assert.deepEqual(caAudit(d), [{ action: 'ca.lock', detail: keyFiles('locked') }]);
    const again = await hub(['ca', 'lock', '--data-dir', d], { env: { PI_HUB_CA_PASSPHRASE: PASS } });
    assert.equal(again.stdout, 'the CA keys are already locked\n');
    assert.equal(caAudit(d).length, 1);

    const serve = ['serve', '--data-dir', d, '--host', '127.0.0.1', '--port', '0', '--mqtts-port', '0'];
    const refused = await hub(serve, { env: { PI_HUB_CA_PASSPHRASE: '' } });
    assert.equal(refused.code, 78, refused.stderr);
    assert.match(failure(refused).message!, /^pi-hub: the CA key .*issuing\.key is locked \(encrypted\)$/);
    assert.match(refused.stderr, /PI_HUB_CA_PASSPHRASE/);
    const wrong = await hub(serve, { env: { PI_HUB_CA_PASSPHRASE: 'not the passphrase' } });
    assert.equal(wrong.code, 78);
    assert.match(failure(wrong).message!, /wrong passphrase/);
    // the passphrase in a file works too
    const passFile = join(d, 'pass');
    writeFileSync(passFile, `${PASS}\n`, { mode: 0o600 });

    const h = await TestHub.start({ dataDir: d, env: { PI_HUB_CA_PASSPHRASE: PASS } });
    try {
      assert.equal(h.fingerprint, (await hub(['ca', 'fingerprint', '--data-dir', d])).stdout.trim());
      await h.addUser('carol');
      const key = await h.apiKey('carol');
      const dev = await h.enrollDevice(key, 'pi-locked'); // signing works with the unlocked key in memory
      const c = await connect(h, dev, { clientId: 'pi-locked' });
      await end(c);
    } finally {
      await h.stop();
    }
    const h2 = await TestHub.start({ dataDir: d, env: { PI_HUB_CA_PASSPHRASE: '', PI_HUB_CA_PASSPHRASE_FILE: passFile } });
    await h2.stop();

    // hub.json's caPassphraseFile serves `ca unlock` as it serves `serve`
    writeFileSync(join(d, 'hub.json'), JSON.stringify({ caPassphraseFile: passFile }));
    const unlock = await hub(['ca', 'unlock', '--data-dir', d], { env: { PI_HUB_CA_PASSPHRASE: '' } });
    assert.equal(unlock.code, 0, unlock.stderr);
    rmSync(join(d, 'hub.json'));
    assert.match(readFileSync(join(d, 'ca', 'issuing.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.deepEqual(caAudit(d).at(-1), { action: 'ca.unlock', detail: keyFiles('unlocked') });
    const h3 = await TestHub.start({ dataDir: d, env: { PI_HUB_CA_PASSPHRASE: '' } });
    await h3.stop();
  });

  it('keys locked the old way (PBKDF2, 2,048 iterations) still serve and unlock; ca lock re-encrypts them with scrypt', async () => {
    const d = tempDir();
    assert.equal((await hub(['ca', 'fingerprint', '--data-dir', d])).code, 0);
    // what ca lock wrote before: Node's own export, whose only key derivation is PBKDF2 at 2,048 iterations
    for (const k of ['root.key', 'issuing.key']) {
      const file = join(d, 'ca', k);
      const key = createPrivateKey(readFileSync(file, 'utf8'));
      writeFileSync(file, key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: PASS }), { mode: 0o600 });
      assert.match(await keyEncryption(file), /^PBES2 PBKDF2 0800 hmacWithSHA256 aes-256-cbc$/);
    }
    const old = tempDir();
    cpSync(d, old, { recursive: true });

    const h = await TestHub.start({ dataDir: d, env: { PI_HUB_CA_PASSPHRASE: PASS } });
    await h.stop();

    // the passphrase that re-encrypts must be the one that decrypts
    const wrong = await hub(['ca', 'lock', '--data-dir', d], { env: { PI_HUB_CA_PASSPHRASE: 'not the passphrase' } });
    assert.equal(wrong.code, 78);
    assert.match(failure(wrong).message!, /wrong passphrase/);
    assert.match(await keyEncryption(join(d, 'ca', 'root.key')), /^PBES2 PBKDF2 /);

    const lock = await hub(['ca', 'lock', '--data-dir', d], { env: { PI_HUB_CA_PASSPHRASE: PASS } });
    assert.equal(lock.code, 0, lock.stderr);
    assert.equal(lock.stdout, 're-encrypted 2 CA key(s) locked the old way (PBKDF2, 2,048 iterations) with scrypt\n');
    for (const k of ['root.key', 'issuing.key']) assert.equal(await keyEncryption(join(d, 'ca', k)), SCRYPT_LOCKED, k);
    assert.deepEqual(caAudit(d), [{ action: 'ca.lock', detail: keyFiles('re-encrypted') }]);
    const h2 = await TestHub.start({ dataDir: d, env: { PI_HUB_CA_PASSPHRASE: PASS } });
    await h2.stop();

    const unlock = await hub(['ca', 'unlock', '--data-dir', old], { env: { PI_HUB_CA_PASSPHRASE: PASS } });
    assert.equal(unlock.code, 0, unlock.stderr);
    assert.equal(unlock.stdout, 'unlocked 2 CA key(s)\n');
    for (const k of ['root.key', 'issuing.key']) assert.match(readFileSync(join(old, 'ca', k), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.deepEqual(caAudit(old), [{ action: 'ca.unlock', detail: keyFiles('unlocked') }]);
  });
});

describe('ca import', { concurrency: 2 }, () => {
  /** Imports, starts a hub on it, enrolls a device and connects it; returns the hub's fingerprint. */
  async function importAndUse(certFile: string, keyFile: string, kind: 'root' | 'intermediate'): Promise<string> {
    const d = tempDir('pifleet-import-');
    const r = await hub(['ca', 'import', '--cert', certFile, '--key', keyFile, '--data-dir', d]);
    assert.equal(r.code, 0, r.stderr);
    const fp = new RegExp(`^imported a ${kind} CA; root fingerprint ([0-9A-F:]+)$`, 'm').exec(r.stdout)?.[1];
    assert.ok(fp, r.stdout);
    assert.deepEqual(caAudit(d), [{ action: 'ca.import', detail: { kind, fingerprint: fp, force: false } }]);
    const h = await TestHub.start({ dataDir: d });
    try {
      const t = await addTenant(h, 'carol', ['pi-imported']);
      const dev = device(t, 'pi-imported');
      // the device certificate chains to the imported CA, and the hub accepts it
      const issuer = new X509Certificate(readFileSync(certFile, 'utf8'));
      assert.ok(new X509Certificate(dev.cert).checkIssued(kind === 'intermediate' ? issuer : new X509Certificate(readFileSync(join(d, 'ca', 'issuing.crt'), 'utf8'))));
      for (const transport of ['wss', 'mqtts'] as const) {
        const c = await connect(h, dev, { transport, clientId: 'pi-imported' });
        await end(c);
        const u = await connect(h, t.user, { transport });
        await end(u);
      }
      return h.fingerprint;
    } finally {
      await h.stop();
    }
  }

  it('an openssl-made root CA: a device enrolls and connects, the hub pins that root', async () => {
    const ca = await opensslCa(tempDir());
    assert.equal(await importAndUse(ca.root.cert, ca.root.key, 'root'), await opensslFingerprint(ca.root.cert));
  });

  it('an openssl-made RSA root CA', async () => {
    const ca = await opensslCa(tempDir(), { rsa: true });
    assert.equal(await importAndUse(ca.root.cert, ca.root.key, 'root'), await opensslFingerprint(ca.root.cert));
  });

  it('an intermediate with its chain: the intermediate issues, the root is pinned', async () => {
    const ca = await opensslCa(tempDir(), { intermediates: 1 });
    const bundle = join(ca.dir, 'bundle.pem');
    writeFileSync(bundle, readFileSync(ca.intermediates[0]!.cert, 'utf8') + readFileSync(ca.root.cert, 'utf8'));
    assert.equal(await importAndUse(bundle, ca.intermediates[0]!.key, 'intermediate'), await opensslFingerprint(ca.root.cert));
  });

  it('an intermediate two levels below the root, with its whole chain', async () => {
    const ca = await opensslCa(tempDir(), { intermediates: 2 });
    const bundle = join(ca.dir, 'bundle.pem');
    writeFileSync(bundle, [ca.intermediates[1]!.cert, ca.intermediates[0]!.cert, ca.root.cert].map((f) => readFileSync(f, 'utf8')).join(''));
    assert.equal(await importAndUse(bundle, ca.intermediates[1]!.key, 'intermediate'), await opensslFingerprint(ca.root.cert));
  });

  it('refuses what it cannot use, with exit 78 and one line', async () => {
    const ca = await opensslCa(tempDir(), { intermediates: 1 });
    const d = tempDir();
    const other = await opensslCa(tempDir());
    const leafDir = tempDir();
    const leafKey = join(leafDir, 'leaf.key');
    const leafCrt = join(leafDir, 'leaf.crt');
    assert.equal((await runProgram('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', leafKey, '-out', leafCrt, '-days', '1', '-subj', '/CN=leaf', '-addext', 'basicConstraints=critical,CA:FALSE'])).code, 0);
    const rows: Array<[string, string[], RegExp]> = [
      ['a key that is not the certificate\'s', ['--cert', ca.root.cert, '--key', other.root.key], /^pi-hub: the CA key does not belong to the CA certificate \(the first one of the chain\)$/],
      ['a certificate that is no CA', ['--cert', leafCrt, '--key', leafKey], /^pi-hub: the certificate to import is not a CA certificate/],
      ['an intermediate without its root', ['--cert', ca.intermediates[0]!.cert, '--key', ca.intermediates[0]!.key], /^pi-hub: the CA chain to import does not reach a self-signed root/],
      ['a file that is no certificate', ['--cert', ca.root.key, '--key', ca.root.key], /^pi-hub: the CA certificate to import holds no PEM certificate$/],
    ];
    for (const [name, args, message] of rows) {
      const r = await hub(['ca', 'import', ...args, '--data-dir', d]);
      assert.equal(r.code, 78, `${name}: ${r.stderr}`);
      assert.match(failure(r).message!, message, name);
    }
    const missing = await hub(['ca', 'import', '--cert', join(d, 'nope.crt'), '--key', ca.root.key, '--data-dir', d]);
    assert.deepEqual(failure(missing), { code: 1, message: `pi-hub: cannot read --cert ${join(d, 'nope.crt')}: ENOENT` });
    const usage = await hub(['ca', 'import', '--cert', ca.root.cert, '--data-dir', d]);
    assert.equal(usage.code, 2);
  });

  it('says so when an import replaces locked CA keys with unencrypted ones', async () => {
    const d = tempDir('pifleet-import-locked-');
    const env = { PI_HUB_CA_PASSPHRASE: 'a long enough passphrase' };
    assert.equal((await hub(['ca', 'lock', '--data-dir', d], { env })).code, 0);
    const ca = await opensslCa(tempDir());
    const r = await hub(['ca', 'import', '--cert', ca.root.cert, '--key', ca.root.key, '--data-dir', d], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^note: the CA keys were locked; the imported ones are stored unencrypted: run pi-hub ca lock$/m);
    assert.match(readFileSync(join(d, 'ca', 'issuing.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.deepEqual(caAudit(d).map((e) => e.action), ['ca.lock', 'ca.import']);
  });

  it('refuses to replace the CA of enrolled devices without --force', async () => {
    const h = await TestHub.start();
    try {
      const t = await addTenant(h, 'carol', ['pi-enrolled']);
      const ca = await opensslCa(tempDir());
      const fp = h.fingerprint;
      const r = await h.cli(['ca', 'import', '--cert', ca.root.cert, '--key', ca.root.key]);
      assert.deepEqual(failure(r), { code: 1, message: 'pi-hub: devices are enrolled with the current CA; importing another one makes their certificates invalid' });
      assert.equal((await h.cli(['ca', 'fingerprint'])).stdout.trim(), fp);
      const c = await connect(h, device(t, 'pi-enrolled'), { clientId: 'pi-enrolled' });
      await end(c);
    } finally {
      await h.stop();
    }
  });
});

describe('cert issue --p12, cert expiring', () => {
  it('writes a PKCS#12 Node loads as pfx with the printed password, and the hub accepts it', async () => {
    const h = await TestHub.start();
    try {
      await h.addUser('carol');
      const out = join(h.dataDir, 'p12');
      const r = await h.cli(['cert', 'issue', '--user', 'carol', '--out', out, '--p12']);
      assert.equal(r.code, 0, r.stderr);
      const m = /^\s+(\S+\.p12) \(password: (\S+)\)$/m.exec(r.stdout);
      assert.ok(m, r.stdout);
      const pfx = readFileSync(m[1]!);
      assert.doesNotThrow(() => tls.createSecureContext({ pfx, passphrase: m[2]! }));
      assert.throws(() => tls.createSecureContext({ pfx, passphrase: 'wrong' }));
      for (const transport of ['wss', 'mqtts'] as const) {
        const c = await tryConnect(h, null, { transport, tls: { pfx, passphrase: m[2]! } });
        assert.equal(c.outcome, 'connected', c.detail);
        await end(c.client);
      }
      // PI_HUB_P12_PASSWORD: the operator's own password, not printed
      const r2 = await h.cli(['cert', 'issue', '--user', 'carol', '--out', join(h.dataDir, 'p12b'), '--p12'], { env: { PI_HUB_P12_PASSWORD: 'operator-chosen' } });
      assert.equal(r2.code, 0, r2.stderr);
      assert.doesNotMatch(r2.stdout, /password/);
      assert.doesNotThrow(() => tls.createSecureContext({ pfx: readFileSync(join(h.dataDir, 'p12b', 'carol.p12')), passphrase: 'operator-chosen' }));
    } finally {
      await h.stop();
    }
  });

  it('cert expiring lists what expires within --days (default 14), neither renewed nor revoked', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'hub.json'), JSON.stringify({ userCertDays: 10 }));
    assert.equal((await hub(['user', 'add', 'carol', '--data-dir', d])).code, 0);
    const issue = async () => {
      const r = await hub(['cert', 'issue', '--user', 'carol', '--out', join(d, 'out'), '--data-dir', d]);
      assert.equal(r.code, 0, r.stderr);
      return /certificate ([0-9a-f]+)/.exec(r.stdout)![1]!;
    };
    const [kept, revoked] = [await issue(), await issue()];
    assert.equal((await hub(['cert', 'revoke', revoked, '--data-dir', d])).code, 0);
    const rows = (r: RunResult) => r.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/));
    const def = await hub(['cert', 'expiring', '--data-dir', d]);
    assert.equal(def.code, 0, def.stderr);
    assert.deepEqual(def.stdout.split('\n')[0]!.split(/\s+/), ['SERIAL', 'KIND', 'USER', 'DEVICE', 'NOT', 'AFTER', 'STATE']);
    assert.deepEqual(rows(def).map((r) => [r[0], r[1], r[2], r[3], r[5]]), [[kept, 'user', 'carol', '-', 'valid']]);
    assert.match(def.stderr, /1 certificate\(s\) expire within 14 days/);
    const soon = await hub(['cert', 'expiring', '--days', '5', '--data-dir', d]);
    assert.equal(soon.code, 0);
    assert.deepEqual(rows(soon), []);
    assert.equal(soon.stderr, '');
  });
});
