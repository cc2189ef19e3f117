// A user's own things, for the dashboard: logging in and out (a session cookie), who is logged in,
// the sessions, the API keys and the audit log (docs/ARCHITECTURE.md, "The dashboard's API").
import { z } from 'zod';
import type { Logger } from '../../shared/log.js';
import type { AuditWriter } from '../audit-writer.js';
import type { CertificateAuthority } from '../ca/authority.js';
import { type Identity, SESSION_COOKIE, cookieValue } from '../mqtt/identity.js';
import type { SessionRegistry } from '../mqtt/sessions.js';
import { hashSecret, newApiKey, preparePasswordVerification, verifyPassword } from '../secrets.js';
import { SESSION_MAX_MS } from '../store/sessions.js';
import { API_SCOPES, type ApiKey, type HubStore } from '../store/store.js';
import { type ApiAuth, checkSameOrigin, rateLimit, userIdOf } from './auth.js';
import { type Ctx, HttpError, type Router, readJson } from './http.js';
import { RateLimiter } from './rate-limit.js';

export interface AccountDeps {
  store: HubStore;
  ca: CertificateAuthority;
  sessions: SessionRegistry;
  audit: AuditWriter;
  log: Logger;
  /** How Pis reach the hub: what "Add a Pi" shows. */
  publicUrl: () => string;
}

const LoginSchema = z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) });
const NewKeySchema = z.strictObject({
  name: z.string().min(1).max(80).optional(),
  scopes: z.array(z.enum(API_SCOPES)).min(1).max(2).optional(),
  uses: z.number().int().min(1).max(1_000_000).optional(),
  expiresInSec: z.number().int().min(60).max(10 * 365 * 86_400).optional(),
});
const AuditQuerySchema = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const cookie = (token: string, maxAgeSec: number) =>
  `${SESSION_COOKIE}=${token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=${maxAgeSec}`;

const keyView = (k: ApiKey) => ({
  id: k.id, name: k.name, scopes: k.scopes, usesLeft: k.usesLeft, expiresAt: k.expiresAt, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt, revokedAt: k.revokedAt,
});

export function accountRoutes(router: Router, d: AccountDeps, auth: ApiAuth): void {
  preparePasswordVerification();
  const loginsPerAddress = rateLimit(new RateLimiter(10, 6_000), (ctx) => ctx.ip);
  /** Wrong passwords per user name: a guesser is slowed down, never for more than a minute a try. */
  const failuresPerUser = new RateLimiter(5, 60_000);
  const audit = (ctx: Ctx, action: string, detail: unknown) =>
    d.audit.add({ userId: userIdOf(ctx), actor: `user:${(ctx.state.identity as Identity).label}`, deviceSerial: null, action, detail });

  router.on('POST', '/api/v1/session', loginsPerAddress, async (ctx) => {
    checkSameOrigin(ctx); // login CSRF: another site must not log a browser into its own account
    const body = await readJson(ctx, LoginSchema);
    const wait = failuresPerUser.wait(body.username);
    if (wait > 0) throw new HttpError(429, 'rate_limited', 'too many wrong passwords for this user; try again later', { 'retry-after': String(Math.ceil(wait / 1000)) });
    const user = d.store.users.byName(body.username);
    // The same answer after the same argon2 work whether or not the user exists.
    if (!(await verifyPassword(user?.passwordHash ?? null, body.password)) || !user) {
      failuresPerUser.take(body.username);
      throw auth.unauthorized(ctx, 'wrong user name or password');
    }
    const { token, session } = d.store.sessions.create(user.id, ctx.ip, ctx.req.headers['user-agent'] ?? null);
    d.audit.add({ userId: user.id, actor: `user:${user.name}`, deviceSerial: null, action: 'session.login', detail: { session: session.id, ip: ctx.ip } });
    return { status: 204, body: null, headers: { 'set-cookie': cookie(token, Math.floor(SESSION_MAX_MS / 1000)) } };
  });

  router.on('DELETE', '/api/v1/session', auth.requireAccount, async (ctx) => {
    const token = cookieValue(ctx.req.headers.cookie, SESSION_COOKIE);
    const session = token ? d.store.sessions.byToken(token) : null;
    if (session) {
      d.store.sessions.end(session.id);
      d.sessions.cutSessions([session.id], 'logged out');
      audit(ctx, 'session.logout', { session: session.id });
    }
    return { status: 204, body: null, headers: { 'set-cookie': cookie('', 0) } };
  });

  router.on('GET', '/api/v1/me', auth.requireAccount, async (ctx) => {
    const id = auth.identity(ctx);
    const user = d.store.users.byId(id.userId)!;
    const session = id.sessionId ? d.store.sessions.byId(id.sessionId) : null;
    return {
      body: {
        user: { id: user.id, name: user.name, isAdmin: user.isAdmin },
        via: id.via,
        session: session ? { id: session.id, createdAt: session.createdAt, expiresAt: session.expiresAt } : null,
        hub: { publicUrl: d.publicUrl(), fingerprint: d.ca.fingerprint },
      },
    };
  });

  router.on('GET', '/api/v1/sessions', auth.requireAccount, async (ctx) => {
    const current = auth.identity(ctx).sessionId;
    const sessions = d.store.sessions.list(userIdOf(ctx)).map((s) => ({
      id: s.id, createdAt: s.createdAt, lastUsedAt: s.lastUsedAt, expiresAt: s.expiresAt, address: s.address, userAgent: s.userAgent, current: s.id === current,
    }));
    return { body: { sessions } };
  });

  router.on('DELETE', '/api/v1/sessions/:id', auth.requireAccount, async (ctx) => {
    const s = d.store.sessions.byId(ctx.params.id!);
    if (!s || s.userId !== userIdOf(ctx)) throw new HttpError(404, 'not_found', 'no such session');
    d.store.sessions.end(s.id);
    d.sessions.cutSessions([s.id], 'ended by its user');
    audit(ctx, 'session.end', { session: s.id });
    return { status: 204, body: null };
  });

  router.on('GET', '/api/v1/apikeys', auth.requireAccount, async (ctx) => ({ body: { keys: d.store.apiKeys.list(userIdOf(ctx)).map(keyView) } }));

  router.on('POST', '/api/v1/apikeys', auth.requireAccount, async (ctx) => {
    const body = await readJson(ctx, NewKeySchema);
    const k = newApiKey();
    const key = d.store.apiKeys.add(k.id, userIdOf(ctx), body.name ?? null, await hashSecret(k.secret), {
      scopes: body.scopes ?? ['enroll'], uses: body.uses ?? null, expiresAt: body.expiresInSec ? Date.now() + body.expiresInSec * 1000 : null,
    });
    audit(ctx, 'apikey.create', { id: k.id, name: key.name, scopes: key.scopes, uses: key.usesLeft, expiresAt: key.expiresAt });
    return { status: 201, body: { key: k.key, ...keyView(key) } };
  });

  router.on('DELETE', '/api/v1/apikeys/:id', auth.requireAccount, async (ctx) => {
    const key = d.store.apiKeys.byId(ctx.params.id!);
    if (!key || key.userId !== userIdOf(ctx)) throw new HttpError(404, 'not_found', 'no such API key');
    const r = d.store.apiKeys.revoke(key.id)!;
    audit(ctx, 'apikey.revoke', { id: key.id, certificates: r.certificates });
    return { body: r };
  });

  router.on('GET', '/api/v1/audit', auth.requireAccount, async (ctx) => {
    const q = AuditQuerySchema.safeParse(Object.fromEntries(ctx.url.searchParams));
    if (!q.success) throw new HttpError(400, 'invalid_request', 'before: an entry id; limit: 1 to 200');
    const entries = d.store.audit.list({ userId: userIdOf(ctx), before: q.data.before, limit: q.data.limit })
      .map(({ id, ts, actor, deviceSerial, action, detail }) => ({ id, ts, actor, deviceSerial, action, detail }));
    return { body: { entries, next: entries.length === q.data.limit ? entries.at(-1)!.id : null } };
  });
}
