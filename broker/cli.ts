#!/usr/bin/env node
// pi-hub: the control plane's command line (docs/ARCHITECTURE.md, "Command lines").
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { parseFlags, validate } from '../shared/args.js';
import { CliError, ConfigError, EXIT, UsageError } from '../shared/errors.js';
import { runMain } from '../shared/main.js';
import { readStdin, readTextFile } from '../shared/read-file.js';
import { fingerprint } from '../shared/pki.js';
import { createLogger } from '../shared/log.js';
import { VERSION } from '../shared/version.js';
import { ensureDir, writeFileAtomic } from '../shared/fs.js';
import { issuedRecord } from './ca/authority.js';
import { caIsLocked, caPaths } from './ca/files.js';
import { importCa } from './ca/import.js';
import { setCaLock } from './ca/lock.js';
import { caPassphrase, readPassphraseFile, resolveHubConfig } from './config.js';
import { type HubData, openHubData } from './data-dir.js';
import { hashPassword, hashSecret, newApiKey } from './secrets.js';
import { certState } from './store/store.js';
import { UserNameSchema } from './store/users.js';

const HELP = `pi-hub ${VERSION} — the pifleet control plane

usage:
  pi-hub serve   [--data-dir DIR] [--host H] [--port N] [--mqtts-port N] [--client-auth none|want|need]
  pi-hub demo                                        a hub and one simulated Pi, on embedded defaults
  pi-hub user add NAME [--password-stdin] [--admin]
  pi-hub apikey create --user NAME [--name LABEL]    prints the key once
  pi-hub apikey list [--user NAME]
  pi-hub apikey revoke KEY_ID                        also revokes every device certificate issued with it
  pi-hub ca fingerprint | ca root | ca lock | ca unlock | ca import --cert F --key F [--force]
  pi-hub cert issue --user NAME --out DIR [--p12]    a user certificate for a browser or an MQTT client
  pi-hub cert revoke SERIAL                          a device certificate with its renewals and predecessors
  pi-hub cert list [--user NAME] | cert expiring [--days N]

Every command takes --data-dir DIR (default $PI_HUB_DATA_DIR or /var/lib/pi-hub) and --help.
`;

const DATA_DIR = { 'data-dir': { type: 'string' } } as const;
const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');
const note = (s: string) => process.stderr.write(s + '\n');

async function data(dir: string | undefined): Promise<HubData> {
  const cfg = resolveHubConfig({ dataDir: dir });
  return openHubData(cfg.dataDir, cfg.trustDomain);
}

function userByName(d: HubData, name: string) {
  const u = d.store.users.byName(name);
  if (!u) throw new CliError(`unknown user ${name}`, EXIT.FAILURE, 'list users with the dashboard, or add one: pi-hub user add NAME');
  return u;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

async function serve(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    ...DATA_DIR, host: { type: 'string' }, port: { type: 'string' }, 'mqtts-port': { type: 'string' }, 'client-auth': { type: 'string' },
  });
  if (values.help) { out(HELP); return 0; }
  const config = resolveHubConfig({
    dataDir: values['data-dir'], host: values.host, port: values.port, mqttsPort: values['mqtts-port'], clientAuth: values['client-auth'],
  });
  const { startHub } = await import('./hub.js');
  const log = createLogger('pi-hub');
  let hub: Awaited<ReturnType<typeof startHub>>;
  try {
    hub = await startHub(config, log);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new ConfigError(`cannot listen: address in use (${e.message.replace(/^listen EADDRINUSE: address already in use /, '')})`);
    if (e.code === 'EACCES' && e.syscall === 'listen') throw new ConfigError(`cannot listen: permission denied (${e.message})`);
    throw err;
  }
  await new Promise<void>((resolveStop) => {
    const stop = (signal: string) => {
      log.info('stopping', { signal });
      hub.stop().then(resolveStop, resolveStop);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

async function user(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'add') throw new UsageError(`unknown command: user ${sub ?? ''}`.trim(), 'usage: pi-hub user add NAME [--password-stdin] [--admin]');
  const { values, positionals } = parseFlags(rest, { ...DATA_DIR, 'password-stdin': { type: 'boolean' }, admin: { type: 'boolean' } }, true);
  if (values.help) { out(HELP); return 0; }
  if (positionals.length !== 1) throw new UsageError('user add takes exactly one NAME');
  const name = validate(UserNameSchema, positionals[0], 'NAME');
  let password: string;
  let generated = false;
  if (values['password-stdin']) {
    password = (await readStdin()).replace(/\r?\n$/, '');
    if (password.length === 0) throw new UsageError('empty password on stdin');
    if (password.length < 8) throw new UsageError('the password is too short (at least 8 characters)');
  } else {
    password = randomBytes(12).toString('base64url');
    generated = true;
  }
  const d = await data(values['data-dir']);
  if (d.store.users.byName(name)) throw new CliError(`user ${name} already exists`);
  const u = d.store.users.add(name, await hashPassword(password), values.admin ?? false);
  d.store.audit.add({ userId: u.id, actor: 'cli', deviceSerial: null, action: 'user.add', detail: { name, admin: u.isAdmin } });
  out(`added user ${name} (id ${u.id})`);
  if (generated) out(`password: ${password}`);
  return 0;
}

async function apikey(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create': {
      const { values } = parseFlags(rest, { ...DATA_DIR, user: { type: 'string' }, name: { type: 'string' } });
      if (values.help) { out(HELP); return 0; }
      if (!values.user) throw new UsageError('apikey create needs --user NAME');
      const label = values.name === undefined ? null : validate(z.string().min(1).max(80), values.name, '--name');
      const d = await data(values['data-dir']);
      const u = userByName(d, values.user);
      const k = newApiKey();
      d.store.apiKeys.add(k.id, u.id, label, await hashSecret(k.secret));
      d.store.audit.add({ userId: u.id, actor: 'cli', deviceSerial: null, action: 'apikey.create', detail: { id: k.id, name: label } });
      out(k.key);
      note(`API key ${k.id} for ${u.name}: shown once, store it now. Revoke with: pi-hub apikey revoke ${k.id}`);
      return 0;
    }
    case 'list': {
      const { values } = parseFlags(rest, { ...DATA_DIR, user: { type: 'string' } });
      if (values.help) { out(HELP); return 0; }
      const d = await data(values['data-dir']);
      const userId = values.user ? userByName(d, values.user).id : undefined;
      const names = new Map(d.store.users.list().map((u) => [u.id, u.name]));
      const rows = d.store.apiKeys.list(userId).map((k) => [
        k.id, names.get(k.userId) ?? k.userId, k.name ?? '-', iso(k.createdAt), iso(k.lastUsedAt), k.revokedAt ? `revoked ${iso(k.revokedAt)}` : 'active',
      ]);
      out(table([['ID', 'USER', 'NAME', 'CREATED', 'LAST USED', 'STATE'], ...rows]));
      return 0;
    }
    case 'revoke': {
      const { values, positionals } = parseFlags(rest, DATA_DIR, true);
      if (values.help) { out(HELP); return 0; }
      if (positionals.length !== 1) throw new UsageError('apikey revoke takes exactly one KEY_ID');
      const keyId = positionals[0]!.replace(/^pk_([a-z0-9]{12})_.*$/, '$1');
      const d = await data(values['data-dir']);
      const r = d.store.apiKeys.revoke(keyId);
      if (!r) throw new CliError(`unknown API key ${keyId}`);
      d.store.audit.add({ userId: d.store.apiKeys.byId(keyId)!.userId, actor: 'cli', deviceSerial: null, action: 'apikey.revoke', detail: { id: keyId, certificates: r.certificates } });
      out(`revoked API key ${keyId} and ${r.certificates} device certificate(s) issued with it`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: apikey ${sub ?? ''}`.trim(), 'usage: pi-hub apikey create|list|revoke');
  }
}

async function ca(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'fingerprint':
    case 'root': {
      const { values } = parseFlags(rest, DATA_DIR);
      if (values.help) { out(HELP); return 0; }
      const d = await data(values['data-dir']);
      const rootPem = readFileSync(caPaths(d.dataDir).rootCert, 'utf8');
      out(sub === 'root' ? rootPem : fingerprint(rootPem));
      return 0;
    }
    case 'lock':
    case 'unlock': {
      const { values } = parseFlags(rest, { ...DATA_DIR, 'passphrase-file': { type: 'string' } });
      if (values.help) { out(HELP); return 0; }
      const d = await data(values['data-dir']);
      const pass = values['passphrase-file'] ? readPassphraseFile(values['passphrase-file']) : resolveHubConfig({ dataDir: values['data-dir'] }).caPassphrase;
      if (!pass) throw new UsageError('no passphrase: set PI_HUB_CA_PASSPHRASE or pass --passphrase-file FILE');
      if (sub === 'lock' && pass.length < 12) throw new UsageError('the passphrase is too short (at least 12 characters)');
      const changes = setCaLock(d.dataDir, sub === 'lock', pass);
      if (changes.length === 0) out(`the CA keys are already ${sub}ed`);
      for (const change of ['locked', 'unlocked'] as const) {
        const n = changes.filter((c) => c.change === change).length;
        if (n > 0) out(`${change} ${n} CA key(s)`);
      }
      const upgraded = changes.filter((c) => c.change === 're-encrypted').length;
      if (upgraded > 0) out(`re-encrypted ${upgraded} CA key(s) locked the old way (PBKDF2, 2,048 iterations) with scrypt`);
      if (changes.length > 0) {
        d.store.audit.add({
          userId: null, actor: 'cli', deviceSerial: null, action: `ca.${sub}`,
          detail: { files: changes.map((c) => ({ file: relative(d.dataDir, c.file), change: c.change })) },
        });
      }
      if (sub === 'lock') note('pi-hub serve now needs the passphrase: PI_HUB_CA_PASSPHRASE, PI_HUB_CA_PASSPHRASE_FILE or the systemd credential "ca-passphrase"');
      return 0;
    }
    case 'import': {
      const { values } = parseFlags(rest, { ...DATA_DIR, cert: { type: 'string' }, key: { type: 'string' }, force: { type: 'boolean' } });
      if (values.help) { out(HELP); return 0; }
      if (!values.cert || !values.key) throw new UsageError('ca import needs --cert FILE and --key FILE');
      const certPem = readTextFile(values.cert, '--cert', EXIT.FAILURE);
      const keyPem = readTextFile(values.key, '--key', EXIT.FAILURE);
      const d = await data(values['data-dir']);
      if (d.store.devices.list().length > 0 && !values.force) {
        throw new CliError('devices are enrolled with the current CA; importing another one makes their certificates invalid', EXIT.FAILURE, 'pass --force to import anyway (every Pi must then connect again)');
      }
      const wasLocked = caIsLocked(d.dataDir);
      const r = await importCa(d.dataDir, certPem, keyPem, caPassphrase());
      d.store.audit.add({ userId: null, actor: 'cli', deviceSerial: null, action: 'ca.import', detail: { kind: r.kind, fingerprint: r.fingerprint, force: values.force ?? false } });
      if (wasLocked) note('note: the CA keys were locked; the imported ones are stored unencrypted: run pi-hub ca lock');
      out(`imported a ${r.kind} CA; root fingerprint ${r.fingerprint}`);
      note('restart pi-hub: it issues a new server certificate from the imported CA at start');
      return 0;
    }
    default:
      throw new UsageError(`unknown command: ca ${sub ?? ''}`.trim(), 'usage: pi-hub ca fingerprint|root|lock|unlock|import');
  }
}

async function cert(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'issue': {
      const { values } = parseFlags(rest, { ...DATA_DIR, user: { type: 'string' }, out: { type: 'string' }, p12: { type: 'boolean' } });
      if (values.help) { out(HELP); return 0; }
      if (!values.user || !values.out) throw new UsageError('cert issue needs --user NAME and --out DIR');
      const cfg = resolveHubConfig({ dataDir: values['data-dir'] });
      const d = await openHubData(cfg.dataDir, cfg.trustDomain);
      const u = userByName(d, values.user);
      const authority = await d.loadCa(cfg.caPassphrase);
      const dir = resolve(values.out);
      try {
        ensureDir(dir, 0o700);
      } catch (err) {
        throw new CliError(`cannot create ${dir}: ${(err as NodeJS.ErrnoException).code}`);
      }
      const c = await authority.issueUser(u.id, u.name, cfg.userCertLifetimeMs);
      d.store.certs.add(issuedRecord(c, { kind: 'user', userId: u.id }));
      d.store.audit.add({ userId: u.id, actor: 'cli', deviceSerial: null, action: 'cert.issue', detail: { serial: c.serial } });
      const files = { cert: join(dir, `${u.name}.crt`), key: join(dir, `${u.name}.key`), ca: join(dir, 'ca.crt') };
      writeFileAtomic(files.key, c.keyPem, 0o600);
      writeFileAtomic(files.cert, c.pem, 0o644);
      writeFileAtomic(files.ca, authority.chainPem, 0o644);
      out(`certificate ${c.serial} for ${u.name}, valid until ${c.notAfter.toISOString()}`);
      out(`  ${files.cert}\n  ${files.key}\n  ${files.ca}`);
      if (values.p12) {
        const p12 = join(dir, `${u.name}.p12`);
        const password = process.env.PI_HUB_P12_PASSWORD || randomBytes(12).toString('base64url');
        try {
          await promisify(execFile)('openssl', ['pkcs12', '-export', '-inkey', files.key, '-in', files.cert, '-certfile', files.ca,
            '-name', `pifleet ${u.name}`, '-out', p12, '-passout', 'env:PIFLEET_P12_PASSWORD'], { env: { ...process.env, PIFLEET_P12_PASSWORD: password } });
        } catch (err) {
          throw new CliError(`cannot write ${p12}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'openssl is not installed' : (err as Error).message}`);
        }
        out(`  ${p12}${process.env.PI_HUB_P12_PASSWORD ? '' : ` (password: ${password})`}`);
      }
      return 0;
    }
    case 'revoke': {
      const { values, positionals } = parseFlags(rest, DATA_DIR, true);
      if (values.help) { out(HELP); return 0; }
      if (positionals.length !== 1) throw new UsageError('cert revoke takes exactly one SERIAL');
      const serial = positionals[0]!.toLowerCase().replace(/:/g, '');
      const d = await data(values['data-dir']);
      const rec = d.store.certs.bySerial(serial);
      if (!rec) throw new CliError(`unknown certificate ${serial}`);
      // The whole line: the enrollment certificate and every renewal, so no older one stays usable.
      const { line, revoked } = d.store.certs.revokeLine(serial, 'revoked by an operator');
      if (revoked.length === 0) throw new CliError(`certificate ${serial} is already revoked${line.length > 1 ? ', and so is every other certificate of its line' : ''}`);
      d.store.audit.add({ userId: rec.userId, actor: 'cli', deviceSerial: rec.deviceSerial, action: 'cert.revoke', detail: { serial, revoked } });
      out(line.length > 1
        ? `revoked ${revoked.length} certificate(s) of the line of ${serial} (its enrollment certificate and renewals):\n${revoked.map((s) => `  ${s}`).join('\n')}`
        : `revoked certificate ${serial}`);
      return 0;
    }
    case 'list':
    case 'expiring': {
      const { values } = parseFlags(rest, { ...DATA_DIR, user: { type: 'string' }, days: { type: 'string' } });
      if (values.help) { out(HELP); return 0; }
      const days = validate(z.coerce.number().positive().max(3650), values.days ?? '14', '--days');
      const d = await data(values['data-dir']);
      const names = new Map(d.store.users.list().map((u) => [u.id, u.name]));
      const userId = values.user ? userByName(d, values.user).id : undefined;
      const certs = sub === 'expiring'
        ? d.store.certs.expiring(Date.now() + days * 86_400_000).filter((c) => userId === undefined || c.userId === userId)
        : d.store.certs.list(userId);
      const rows = certs.map((c) => [c.serial, c.kind, names.get(c.userId) ?? c.userId, c.deviceSerial ?? '-', iso(c.notAfter), certState(c)]);
      out(table([['SERIAL', 'KIND', 'USER', 'DEVICE', 'NOT AFTER', 'STATE'], ...rows]));
      if (sub === 'expiring' && rows.length > 0) note(`${rows.length} certificate(s) expire within ${days} days without renewal`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: cert ${sub ?? ''}`.trim(), 'usage: pi-hub cert issue|revoke|list|expiring');
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv.filter((a) => a !== '--debug');
  switch (cmd) {
    case undefined: case '--help': case '-h': case 'help':
      out(HELP);
      return cmd === undefined ? EXIT.USAGE : 0;
    case '--version': case 'version':
      out(VERSION);
      return 0;
    case 'serve': return serve(rest);
    case 'demo': {
      const { demo } = await import('./demo.js');
      return demo(rest);
    }
    case 'user': return user(rest);
    case 'apikey': return apikey(rest);
    case 'ca': return ca(rest);
    case 'cert': return cert(rest);
    default:
      throw new UsageError(`unknown command: ${cmd}`, 'run pi-hub --help');
  }
}

await runMain('pi-hub', main);
