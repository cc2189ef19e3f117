// `pi-hub apikey …`: the keys a Pi enrolls with.
import { z } from 'zod';
import { parseFlags, validate } from '../../shared/args.js';
import type { Command } from '../../shared/commands.js';
import { CliError, UsageError } from '../../shared/errors.js';
import { hashSecret, newApiKey } from '../secrets.js';
import { DATA_DIR, data, iso, note, out, table, userByName } from './common.js';

export const apikeyCommands: Command[] = [{
  path: ['apikey', 'create'],
  args: '--user NAME [--name LABEL]',
  summary: 'a new API key, printed once',
  async run(args) {
    const { values } = parseFlags(args, { ...DATA_DIR, user: { type: 'string' }, name: { type: 'string' } });
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
  },
}, {
  path: ['apikey', 'list'],
  args: '[--user NAME]',
  summary: 'the API keys, with last use and state',
  async run(args) {
    const { values } = parseFlags(args, { ...DATA_DIR, user: { type: 'string' } });
    const d = await data(values['data-dir']);
    const userId = values.user ? userByName(d, values.user).id : undefined;
    const names = new Map(d.store.users.list().map((u) => [u.id, u.name]));
    const rows = d.store.apiKeys.list(userId).map((k) => [
      k.id, names.get(k.userId) ?? k.userId, k.name ?? '-', iso(k.createdAt), iso(k.lastUsedAt), k.revokedAt ? `revoked ${iso(k.revokedAt)}` : 'active',
    ]);
    out(table([['ID', 'USER', 'NAME', 'CREATED', 'LAST USED', 'STATE'], ...rows]));
    return 0;
  },
}, {
  path: ['apikey', 'revoke'],
  args: 'KEY_ID',
  summary: 'revoke a key and every device certificate issued with it',
  async run(args) {
    const { values, positionals } = parseFlags(args, DATA_DIR, true);
    if (positionals.length !== 1) throw new UsageError('apikey revoke takes exactly one KEY_ID');
    const keyId = positionals[0]!.replace(/^pk_([a-z0-9]{12})_.*$/, '$1');
    const d = await data(values['data-dir']);
    const r = d.store.apiKeys.revoke(keyId);
    if (!r) throw new CliError(`unknown API key ${keyId}`);
    d.store.audit.add({ userId: d.store.apiKeys.byId(keyId)!.userId, actor: 'cli', deviceSerial: null, action: 'apikey.revoke', detail: { id: keyId, certificates: r.certificates } });
    out(`revoked API key ${keyId} and ${r.certificates} device certificate(s) issued with it`);
    return 0;
  },
}];
