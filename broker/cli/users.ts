// `pi-hub user …`: the people who own Pis.
import { randomBytes } from 'node:crypto';
import { parseFlags, validate } from '../../shared/args.js';
import type { Command } from '../../shared/commands.js';
import { CliError, UsageError } from '../../shared/errors.js';
import { readStdin } from '../../shared/read-file.js';
import { hashPassword } from '../secrets.js';
import { REVOKE_REASON } from '../store/store.js';
import { UserNameSchema } from '../store/users.js';
import { DATA_DIR, data, iso, out, table, userByName } from './common.js';

/** A password from stdin (--password-stdin), or a generated one to print. */
async function passwordFrom(fromStdin: boolean | undefined): Promise<{ password: string; generated: boolean }> {
  if (!fromStdin) return { password: randomBytes(12).toString('base64url'), generated: true };
  const password = (await readStdin()).replace(/\r?\n$/, '');
  if (password.length === 0) throw new UsageError('empty password on stdin');
  if (password.length < 8) throw new UsageError('the password is too short (at least 8 characters)');
  return { password, generated: false };
}

export const userCommands: Command[] = [{
  path: ['user', 'add'],
  args: 'NAME [--password-stdin] [--admin]',
  summary: 'add a user; without --password-stdin a password is generated and printed',
  async run(args) {
    const { values, positionals } = parseFlags(args, { ...DATA_DIR, 'password-stdin': { type: 'boolean' }, admin: { type: 'boolean' } }, true);
    if (positionals.length !== 1) throw new UsageError('user add takes exactly one NAME');
    const name = validate(UserNameSchema, positionals[0], 'NAME');
    const { password, generated } = await passwordFrom(values['password-stdin']);
    const d = await data(values['data-dir']);
    if (d.store.users.byName(name)) throw new CliError(`user ${name} already exists`);
    const u = d.store.users.add(name, await hashPassword(password), values.admin ?? false);
    d.store.audit.add({ userId: u.id, actor: 'cli', deviceSerial: null, action: 'user.add', detail: { name, admin: u.isAdmin } });
    out(`added user ${name} (id ${u.id})`);
    if (generated) out(`password: ${password}`);
    return 0;
  },
}, {
  path: ['user', 'list'],
  args: '',
  summary: 'the users, with their Pis and API keys',
  async run(args) {
    const { values } = parseFlags(args, DATA_DIR);
    const d = await data(values['data-dir']);
    const rows = d.store.users.list().map((u) => [
      u.id, u.name, u.isAdmin ? 'admin' : '-', String(d.store.devices.list(u.id).length),
      String(d.store.apiKeys.list(u.id).filter((k) => k.revokedAt === null).length), iso(u.createdAt),
    ]);
    out(table([['ID', 'NAME', 'ROLE', 'PIS', 'KEYS', 'CREATED'], ...rows]));
    return 0;
  },
}, {
  path: ['user', 'passwd'],
  args: 'NAME [--password-stdin]',
  summary: 'a new password for a user (generated and printed without --password-stdin)',
  async run(args) {
    const { values, positionals } = parseFlags(args, { ...DATA_DIR, 'password-stdin': { type: 'boolean' } }, true);
    if (positionals.length !== 1) throw new UsageError('user passwd takes exactly one NAME');
    const d = await data(values['data-dir']);
    const u = userByName(d, positionals[0]!);
    const { password, generated } = await passwordFrom(values['password-stdin']);
    d.store.users.setPassword(u.id, await hashPassword(password));
    d.store.audit.add({ userId: u.id, actor: 'cli', deviceSerial: null, action: 'user.passwd', detail: { name: u.name } });
    out(`changed the password of ${u.name}`);
    if (generated) out(`password: ${password}`);
    return 0;
  },
}, {
  path: ['user', 'remove'],
  args: 'NAME',
  summary: 'remove a user: its Pis, API keys and certificates revoked, its sessions ended, all cut within a second',
  async run(args) {
    const { values, positionals } = parseFlags(args, DATA_DIR, true);
    if (positionals.length !== 1) throw new UsageError('user remove takes exactly one NAME');
    const d = await data(values['data-dir']);
    const u = userByName(d, positionals[0]!);
    const s = d.store;
    const held = s.transaction(() => {
      const keys = s.apiKeys.list(u.id).filter((k) => k.revokedAt === null);
      for (const k of keys) s.apiKeys.revoke(k.id);
      const certs = s.certs.revokeAllOf(u.id, REVOKE_REASON.userRemoved);
      const devices = s.devices.list(u.id);
      for (const dev of devices) s.devices.markRemoved(u.id, dev.serial);
      const sessions = s.sessions.endAllOf(u.id);
      s.users.remove(u.id);
      return { keys: keys.length, certificates: certs.length, devices: devices.length, sessions };
    });
    s.audit.add({ userId: u.id, actor: 'cli', deviceSerial: null, action: 'user.remove', detail: { name: u.name, ...held } });
    out(`removed ${u.name}: ${held.devices} Pi(s), ${held.keys} API key(s), ${held.certificates} certificate(s) revoked, ${held.sessions} session(s) ended`);
    return 0;
  },
}];
