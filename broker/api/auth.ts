// Who is asking, for the API: an API key (bearer token), or a certificate (device or user) presented
// in the TLS handshake. As middleware for routes, which then find it in ctx.state; and one answer for
// every failed authentication: 401, audited at most once per address and 10 s.
import type { AuditWriter } from '../audit-writer.js';
import { type Identity, type IdentityResolver, resolveIdentity } from '../mqtt/identity.js';
import { parseApiKey } from '../../shared/api-key.js';
import { prepareApiKeyVerification, verifyApiKeySecret } from '../secrets.js';
import type { ApiKey, ApiScope, HubStore } from '../store/store.js';
import { type Ctx, HttpError, type Middleware, bearerToken } from './http.js';
import { RateLimiter } from './rate-limit.js';

export interface AuthDeps {
  store: HubStore;
  audit: AuditWriter;
  resolvers: IdentityResolver[];
}

/** Refuses with 429 and retry-after once `key(ctx)` has used its bucket up. */
export function rateLimit(limiter: RateLimiter, key: (ctx: Ctx) => string): Middleware {
  return (ctx, next) => {
    refuseAfter(limiter.take(key(ctx)));
    return next();
  };
}

function refuseAfter(waitMs: number): void {
  if (waitMs > 0) throw new HttpError(429, 'rate_limited', 'too many requests; try again later', { 'retry-after': String(Math.ceil(waitMs / 1000)) });
}

const SCOPE_NEEDED: Record<ApiScope, string> = {
  enroll: 'this API key may not enroll Pis',
  read: 'this API key may only enroll Pis; reading devices needs a user certificate, a dashboard session, or a key made with --scope read',
};

export class ApiAuth {
  /**
   * Wrong secrets, per address and key id: they slow down whoever sends them, never the key's owner
   * elsewhere (a bucket per key id alone let anyone lock a key out by knowing its id).
   */
  private readonly failures = new RateLimiter(5, 60_000);

  constructor(private readonly d: AuthDeps) {
    prepareApiKeyVerification();
  }

  /** A failed authentication: audited (at most once per address and 10 s), then 401. */
  unauthorized(ctx: Ctx, message: string, keyId?: string): HttpError {
    this.d.audit.addThrottled(`api-auth:${ctx.ip}`, {
      userId: null, actor: `remote:${ctx.ip}`, deviceSerial: null, action: 'api.refused',
      detail: { path: ctx.url.pathname, reason: message, ...(keyId ? { key: keyId } : {}) },
    });
    return new HttpError(401, 'unauthorized', message);
  }

  /** The API key in the bearer token, verified and allowed `scope`; 401 or 403 for anything else. */
  async apiKey(ctx: Ctx, scope: ApiScope): Promise<ApiKey> {
    const token = bearerToken(ctx);
    if (!token) throw this.unauthorized(ctx, 'send the API key as a bearer token');
    const parsed = parseApiKey(token);
    if (!parsed) throw this.unauthorized(ctx, 'that is not an API key (pk_<id>_<secret>)');
    const failureKey = `${ctx.ip} ${parsed.id}`;
    refuseAfter(this.failures.wait(failureKey));
    const key = this.d.store.apiKeys.byId(parsed.id);
    // The same answer, after the same argon2 work, for unknown, wrong and revoked: a caller learns
    // nothing about which keys exist, neither from the answer nor from its timing.
    const verified = await verifyApiKeySecret(key?.secretHash ?? null, parsed.secret);
    if (!key || !verified || key.revokedAt !== null) {
      this.failures.take(failureKey);
      throw this.unauthorized(ctx, 'unknown or revoked API key', parsed.id);
    }
    // Whoever sends these knows the secret: they may learn why the key no longer works.
    if (key.expiresAt !== null && key.expiresAt <= Date.now()) {
      throw new HttpError(403, 'key_expired', `this API key expired at ${new Date(key.expiresAt).toISOString()}; create a new one: pi-hub apikey create`);
    }
    if (!key.scopes.includes(scope)) throw new HttpError(403, 'forbidden', SCOPE_NEEDED[scope]);
    if (key.usesLeft === 0) throw new HttpError(403, 'key_used_up', 'this API key has enrolled as many Pis as it was made for; create a new one: pi-hub apikey create');
    this.d.store.apiKeys.touch(key.id);
    return key;
  }

  /** Who the TLS certificate or the session cookie says; 401 when neither does. */
  identity(ctx: Ctx): Identity {
    const who = resolveIdentity(this.d.resolvers, ctx.socket, ctx.req);
    if (!who.ok) throw this.unauthorized(ctx, who.reason);
    return who.identity;
  }

  /** ctx.state.apiKey: an API key with this scope is required. */
  requireApiKey(scope: ApiScope): Middleware {
    return async (ctx, next) => {
      ctx.state.apiKey = await this.apiKey(ctx, scope);
      return next();
    };
  }

  /** ctx.state.identity: a device certificate is required. */
  readonly requireDevice: Middleware = (ctx, next) => {
    const id = this.identity(ctx);
    if (id.kind !== 'device') throw new HttpError(403, 'forbidden', 'this needs a device certificate');
    ctx.state.identity = id;
    return next();
  };

  /** ctx.state.userId: an API key with the read scope (bearer), a user certificate or a session. */
  readonly requireUser: Middleware = async (ctx, next) => {
    if (bearerToken(ctx)) {
      ctx.state.userId = (await this.apiKey(ctx, 'read')).userId;
      return next();
    }
    return this.requireAccount(ctx, next);
  };

  /**
   * ctx.state.identity and userId: a user certificate or a session — what a browser brings along by
   * itself, so a request that changes something must also prove it comes from the hub's own page.
   */
  readonly requireAccount: Middleware = (ctx, next) => {
    const id = this.identity(ctx);
    if (id.kind !== 'user') throw new HttpError(403, 'forbidden', 'this needs a user certificate, a dashboard session or an API key');
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') checkSameOrigin(ctx);
    ctx.state.identity = id;
    ctx.state.userId = id.userId;
    return next();
  };
}

/** The header the dashboard sends with every change: a page of another origin cannot, without a CORS preflight the hub never grants. */
export const CSRF_HEADER = 'x-pifleet-csrf';

/** 403 csrf unless the request carries the header and, when the browser says where from, comes from the hub's own origin. */
export function checkSameOrigin(ctx: Ctx): void {
  if (ctx.req.headers[CSRF_HEADER] !== '1') throw new HttpError(403, 'csrf', `send the header ${CSRF_HEADER}: 1 (the dashboard does)`);
  const origin = ctx.req.headers.origin;
  if (origin !== undefined && origin !== `https://${ctx.req.headers.host ?? ''}`) throw new HttpError(403, 'csrf', `requests from ${origin} are not accepted`);
}

export const apiKeyOf = (ctx: Ctx) => ctx.state.apiKey as ApiKey;
export const identityOf = (ctx: Ctx) => ctx.state.identity as Identity & { kind: 'device' };
export const userIdOf = (ctx: Ctx) => ctx.state.userId as string;
