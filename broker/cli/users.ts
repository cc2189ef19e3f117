// `pi-hub user …`: the people who own Pis.
import { randomBytes } from 'node:crypto';
import { parseFlags, validate } from '../../shared/args.js';
import type { Command } from '../../shared/commands.js';
import { CliError, UsageError } from '../../shared/errors.js';
import { readStdin } from '../../shared/read-file.js';
import { hashPassword } from '../secrets.js';
import { UserNameSchema } from '../store/users.js';
import { DATA_DIR, data, out } from './common.js';

export const userCommands: Command[] = [{
  path: ['user', 'add'],
  args: 'NAME [--password-stdin] [--admin]',
  summary: 'add a user; without --password-stdin a password is generated and printed',
  async run(args) {
    const { values, positionals } = parseFlags(args, { ...DATA_DIR, 'password-stdin': { type: 'boolean' }, admin: { type: 'boolean' } }, true);
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
  },
}];
