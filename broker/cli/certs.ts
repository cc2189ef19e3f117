// `pi-hub cert …`: user certificates for browsers and MQTT clients, revocation, and what is issued.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { parseFlags, validate } from '../../shared/args.js';
import type { Command } from '../../shared/commands.js';
import { CliError, UsageError } from '../../shared/errors.js';
import { ensureDir, writeFileAtomic } from '../../shared/fs.js';
import { issuedRecord } from '../ca/authority.js';
import { resolveHubConfig } from '../config.js';
import { openHubData } from '../data-dir.js';
import { REVOKE_REASON, certState } from '../store/store.js';
import { DATA_DIR, data, iso, note, out, table, userByName } from './common.js';

const issue: Command = {
  path: ['cert', 'issue'],
  args: '--user NAME --out DIR [--p12]',
  summary: 'a user certificate for mosquitto, Node-RED or a browser',
  details: '--p12 also writes a PKCS#12 file (openssl); its password is PI_HUB_P12_PASSWORD, else one is generated and printed.',
  async run(args) {
    const { values } = parseFlags(args, { ...DATA_DIR, user: { type: 'string' }, out: { type: 'string' }, p12: { type: 'boolean' } });
    if (!values.user || !values.out) throw new UsageError('cert issue needs --user NAME and --out DIR');
    const cfg = resolveHubConfig({ dataDir: values['data-dir'] });
    const d = await openHubData(cfg.dataDir, cfg.trustDomain);
    const u = userByName(d, values.user);
    const authority = await d.loadCa(cfg.caPassphrase);
    authority.setCrlUrl(`${cfg.publicUrl(cfg.port)}/api/v1/ca/crl`);
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
  },
};

const revoke: Command = {
  path: ['cert', 'revoke'],
  args: 'SERIAL',
  summary: 'revoke a certificate, a device\'s with its whole renewal line; live sessions are cut',
  async run(args) {
    const { values, positionals } = parseFlags(args, DATA_DIR, true);
    if (positionals.length !== 1) throw new UsageError('cert revoke takes exactly one SERIAL');
    const serial = positionals[0]!.toLowerCase().replace(/:/g, '');
    const d = await data(values['data-dir']);
    const rec = d.store.certs.bySerial(serial);
    if (!rec) throw new CliError(`unknown certificate ${serial}`);
    // The whole line: the enrollment certificate and every renewal, so no older one stays usable.
    const { line, revoked } = d.store.certs.revokeLine(serial, REVOKE_REASON.operator);
    if (revoked.length === 0) throw new CliError(`certificate ${serial} is already revoked${line.length > 1 ? ', and so is every other certificate of its line' : ''}`);
    d.store.audit.add({ userId: rec.userId, actor: 'cli', deviceSerial: rec.deviceSerial, action: 'cert.revoke', detail: { serial, revoked } });
    out(line.length > 1
      ? `revoked ${revoked.length} certificate(s) of the line of ${serial} (its enrollment certificate and renewals):\n${revoked.map((s) => `  ${s}`).join('\n')}`
      : `revoked certificate ${serial}`);
    return 0;
  },
};

const listing = (sub: 'list' | 'expiring'): Command => ({
  path: ['cert', sub],
  args: sub === 'list' ? '[--user NAME]' : '[--user NAME] [--days N]',
  summary: sub === 'list' ? 'every certificate issued, with its state' : 'certificates expiring within N days (14) that were not renewed',
  async run(args) {
    const { values } = parseFlags(args, { ...DATA_DIR, user: { type: 'string' }, days: { type: 'string' } });
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
  },
});

export const certCommands: Command[] = [issue, revoke, listing('list'), listing('expiring')];
