// `pi-hub apikey …`: the keys a Pi enrolls with.
import { z } from 'zod';
import { apiKeyIdOf } from '../../shared/api-key.js';
import { parseFlags, validate } from '../../shared/args.js';
import type { Command } from '../../shared/commands.js';
import { CliError, UsageError } from '../../shared/errors.js';
import { hashSecret, newApiKey } from '../secrets.js';
import { API_SCOPES, type ApiKey } from '../store/store.js';
import { DATA_DIR, data, iso, note, out, table, userByName } from './common.js';

/** `30m`, `24h`, `7d`: how long a key may be used. */
const DurationSchema = z.string().regex(/^[1-9][0-9]{0,5}[mhd]$/, 'a duration is a number and m, h or d: 30m, 24h, 7d')
  .transform((s) => Number(s.slice(0, -1)) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[s.at(-1) as 'm' | 'h' | 'd']);

const describeLimits = (k: { scopes: string[]; usesLeft: number | null; expiresAt: number | null }) =>
  [k.scopes.join(','), k.usesLeft === null ? 'unlimited' : `${k.usesLeft} left`, k.expiresAt === null ? 'never' : iso(k.expiresAt)];

export const apikeyCommands: Command[] = [{
  path: ['apikey', 'create'],
  args: '--user NAME [--name LABEL] [--scope enroll|read]… [--uses N] [--expires 30m|24h|7d]',
  summary: 'a new API key, printed once; by default it may only enroll Pis',
  details: [
    'Scopes: enroll (the default: pi-agent connect) and read (GET /api/v1/devices); repeat --scope for both.',
    '--uses N: it enrolls at most N Pis; --expires: it stops working after that long (a provisioning key).',
  ].join('\n'),
  async run(args) {
    const { values } = parseFlags(args, {
      ...DATA_DIR, user: { type: 'string' }, name: { type: 'string' }, scope: { type: 'string', multiple: true },
      uses: { type: 'string' }, expires: { type: 'string' },
    });
    if (!values.user) throw new UsageError('apikey create needs --user NAME');
    const label = values.name === undefined ? null : validate(z.string().min(1).max(80), values.name, '--name');
    const scopes = validate(z.array(z.enum(API_SCOPES)).min(1), [...new Set(values.scope ?? ['enroll'])], '--scope');
    const uses = values.uses === undefined ? null : validate(z.coerce.number().int().min(1).max(1_000_000), values.uses, '--uses');
    const ttl = values.expires === undefined ? null : validate(DurationSchema, values.expires, '--expires');
    const d = await data(values['data-dir']);
    const u = userByName(d, values.user);
    const k = newApiKey();
    const key = d.store.apiKeys.add(k.id, u.id, label, await hashSecret(k.secret), { scopes, uses, expiresAt: ttl === null ? null : Date.now() + ttl });
    d.store.audit.add({ userId: u.id, actor: 'cli', deviceSerial: null, action: 'apikey.create', detail: { id: k.id, name: label, scopes, uses, expiresAt: key.expiresAt } });
    out(k.key);
    const [scopeText, usesText, expiresText] = describeLimits(key);
    note(`API key ${k.id} for ${u.name} (${scopeText}; ${usesText === 'unlimited' ? 'unlimited uses' : `${uses} use(s)`}; expires ${expiresText}): shown once, store it now.`);
    note(`On a Pi: sudo pi-agent connect --hub https://HUB:PORT --fingerprint $(pi-hub ca fingerprint) --api-key -   (then paste it)`);
    return 0;
  },
}, {
  path: ['apikey', 'list'],
  args: '[--user NAME]',
  summary: 'the API keys: scopes, uses left, expiry, last use, state',
  async run(args) {
    const { values } = parseFlags(args, { ...DATA_DIR, user: { type: 'string' } });
    const d = await data(values['data-dir']);
    const userId = values.user ? userByName(d, values.user).id : undefined;
    const names = new Map(d.store.users.list().map((u) => [u.id, u.name]));
    const now = Date.now();
    const state = (k: ApiKey) => k.revokedAt ? `revoked ${iso(k.revokedAt)}` : k.expiresAt !== null && k.expiresAt <= now ? 'expired' : k.usesLeft === 0 ? 'used up' : 'active';
    const rows = d.store.apiKeys.list(userId).map((k) => [
      k.id, names.get(k.userId) ?? k.userId, k.name ?? '-', ...describeLimits(k), iso(k.createdAt), iso(k.lastUsedAt), state(k),
    ]);
    out(table([['ID', 'USER', 'NAME', 'SCOPES', 'USES', 'EXPIRES', 'CREATED', 'LAST USED', 'STATE'], ...rows]));
    return 0;
  },
}, {
  path: ['apikey', 'revoke'],
  args: 'KEY_ID',
  summary: 'revoke a key and every device certificate issued with it',
  async run(args) {
    const { values, positionals } = parseFlags(args, DATA_DIR, true);
    if (positionals.length !== 1) throw new UsageError('apikey revoke takes exactly one KEY_ID');
    const keyId = apiKeyIdOf(positionals[0]!);
    const d = await data(values['data-dir']);
    const r = d.store.apiKeys.revoke(keyId);
    if (!r) throw new CliError(`unknown API key ${keyId}`);
    d.store.audit.add({ userId: d.store.apiKeys.byId(keyId)!.userId, actor: 'cli', deviceSerial: null, action: 'apikey.revoke', detail: { id: keyId, certificates: r.certificates } });
    out(`revoked API key ${keyId} and ${r.certificates} device certificate(s) issued with it`);
    return 0;
  },
}];
