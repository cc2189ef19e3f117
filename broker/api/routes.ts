// /api/v1: enrollment (API key), renewal and disconnect (device certificate over mTLS), the device
// list for the dashboard (user certificate or API key), and the CA's public part.
import type { Logger } from '../../shared/log.js';
import { EnrollRequestSchema, type IssuedCertificate, RenewRequestSchema } from '../../shared/schemas.js';
import { VERSION } from '../../shared/version.js';
import { parseApiKey, prepareApiKeyVerification, verifyApiKeySecret } from '../secrets.js';
import type { AuditWriter } from '../audit-writer.js';
import { type CertificateAuthority, CsrError, type IssuedCert } from '../ca.js';
import type { DeviceTracker } from '../device-tracker.js';
import type { Identity, IdentityResolver } from '../identity.js';
import { resolveIdentity } from '../identity.js';
import type { SessionRegistry } from '../sessions.js';
import { LINE_REASON } from '../store/certs.js';
import type { Store } from '../store/store.js';
import { type Ctx, HttpError, Router, bearerToken, readJson } from './http.js';
import { RateLimiter } from './rate-limit.js';

export interface ApiDeps {
  store: Store;
  ca: CertificateAuthority;
  sessions: SessionRegistry;
  tracker: DeviceTracker;
  audit: AuditWriter;
  resolvers: IdentityResolver[];
  deviceCertLifetimeMs: number;
  log: Logger;
}

export function createApi(d: ApiDeps): Router {
  const byIp = new RateLimiter(10, 6_000); // 10 at once, then one every 6 s per address
  const byKey = new RateLimiter(20, 3_000);
  // The device list answers users and scripts polling it, so it allows more than enrollment does; but
  // per address, checked before any argon2 or database work, since a bad key or no credential at all
  // still costs the hub that work (issue 7).
  const listByIp = new RateLimiter(30, 500);
  prepareApiKeyVerification();

  const limit = (limiter: RateLimiter, key: string) => {
    const wait = limiter.take(key);
    if (wait > 0) throw new HttpError(429, 'rate_limited', 'too many requests; try again later', { 'retry-after': String(Math.ceil(wait / 1000)) });
  };

  /** A failed authentication: audited (at most once per address and 10 s), then 401. */
  const unauthorized = (ctx: Ctx, message: string, keyId?: string): HttpError => {
    d.audit.addThrottled(`api-auth:${ctx.ip}`, {
      userId: null, actor: `remote:${ctx.ip}`, deviceSerial: null, action: 'api.refused',
      detail: { path: ctx.url.pathname, reason: message, ...(keyId ? { key: keyId } : {}) },
    });
    return new HttpError(401, 'unauthorized', message);
  };

  /** The API key in the bearer token, verified; 401 for anything else. */
  const apiKeyOf = async (ctx: Ctx) => {
    const token = bearerToken(ctx);
    if (!token) throw unauthorized(ctx, 'send the API key as a bearer token');
    const parsed = parseApiKey(token);
    if (!parsed) throw unauthorized(ctx, 'that is not an API key (pk_<id>_<secret>)');
    limit(byKey, parsed.id);
    const key = d.store.apiKeys.byId(parsed.id);
    // The same answer, after the same argon2 work, for unknown, wrong and revoked: a caller learns
    // nothing about which keys exist, neither from the answer nor from its timing.
    const verified = await verifyApiKeySecret(key?.secretHash ?? null, parsed.secret);
    if (!key || !verified || key.revokedAt !== null) throw unauthorized(ctx, 'unknown or revoked API key', parsed.id);
    d.store.apiKeys.touch(key.id);
    return key;
  };

  const certIdentity = (ctx: Ctx): Identity => {
    const who = resolveIdentity(d.resolvers, ctx.socket, ctx.req);
    if (!who.ok) throw unauthorized(ctx, who.reason);
    return who.identity;
  };

  const issued = (cert: IssuedCert, serial: string, userId: string): IssuedCertificate => ({
    serial, userId, trustDomain: d.ca.trustDomain, certificate: cert.pem, chain: d.ca.chainPem, notAfter: cert.notAfter.toISOString(),
  });

  const sign = async (csr: string, serial: string, userId: string) => {
    try {
      return await d.ca.issueDevice(csr, serial, userId, d.deviceCertLifetimeMs);
    } catch (err) {
      if (err instanceof CsrError) throw new HttpError(400, 'invalid_csr', err.message);
      throw err;
    }
  };

  const router = new Router(d.log);

  router.on('GET', '/api/v1/health', async () => ({ body: { ok: true, version: VERSION } }));

  router.on('GET', '/api/v1/ca', async () => ({
    body: { fingerprint: d.ca.fingerprint, root: d.ca.rootPem, chain: d.ca.chainPem, trustDomain: d.ca.trustDomain },
  }));

  router.on('POST', '/api/v1/enroll', async (ctx) => {
    limit(byIp, ctx.ip);
    const key = await apiKeyOf(ctx);
    const body = await readJson(ctx, EnrollRequestSchema);
    // Any valid certificate of the serial counts, not only the device's current one: an older one of
    // its renewal line may still be valid (issue 7).
    if (d.store.certs.heldByAnother(body.serial, key.userId)) {
      throw new HttpError(409, 'serial_taken', `serial ${body.serial} is enrolled by another user`);
    }
    const cert = await sign(body.csr, body.serial, key.userId);
    const replaced: string[] = [];
    d.store.db.transaction(() => {
      d.store.certs.add({
        serial: cert.serial, kind: 'device', userId: key.userId, deviceSerial: body.serial, apiKeyId: key.id,
        notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime(), pem: cert.pem,
      });
      // The same user enrolling the serial again replaces, and revokes, the old certificates.
      for (const old of d.store.certs.list(key.userId)) {
        if (old.deviceSerial === body.serial && old.serial !== cert.serial && old.revokedAt === null && d.store.certs.revoke(old.serial, 'replaced by a new enrollment')) {
          replaced.push(old.serial);
        }
      }
      d.store.devices.enroll(body.serial, key.userId, key.id, cert.serial);
    }).immediate();
    if (replaced.length > 0) d.sessions.cut(replaced, 'replaced by a new enrollment');
    d.audit.add({ userId: key.userId, actor: `apikey:${key.id}`, deviceSerial: body.serial, action: 'enroll', detail: { cert: cert.serial, ip: ctx.ip } });
    d.log.info('device enrolled', { serial: body.serial, user: key.userId, key: key.id, cert: cert.serial });
    return { status: 201, body: issued(cert, body.serial, key.userId) };
  });

  // Renewal keeps one usable certificate per line (the enrollment certificate and its renewals,
  // linked by renewed_by). The old certificate is NOT retired here: the response may be lost on the
  // way to the Pi, which must stay connected with the old one. It is retired when the new one is
  // first used (CertificateResolver). Until then the old one may renew again: that supersedes (revokes)
  // the unused renewal. Once the renewal is in use, 409 already_renewed.
  router.on('POST', '/api/v1/renew', async (ctx) => {
    limit(byIp, ctx.ip);
    const who = resolveIdentity(d.resolvers, ctx.socket, ctx.req);
    if (!who.ok) throw who.renewed ? alreadyRenewed() : unauthorized(ctx, who.reason);
    const id = who.identity;
    if (id.kind !== 'device' || !id.certSerial) throw new HttpError(403, 'forbidden', 'renewal needs a device certificate');
    const body = await readJson(ctx, RenewRequestSchema);
    if (d.store.certs.usedSuccessor(id.certSerial)) throw alreadyRenewed();
    const cert = await sign(body.csr, id.serial, id.userId);
    const old = d.store.db.transaction(() => {
      // Again, inside the transaction: another renewal of the same certificate may have finished while this one was signed.
      if (d.store.certs.usedSuccessor(id.certSerial!)) throw alreadyRenewed();
      const prev = d.store.certs.bySerial(id.certSerial!)!;
      if (prev.renewedBy) d.store.certs.revoke(prev.renewedBy, LINE_REASON.superseded);
      d.store.certs.add({
        serial: cert.serial, kind: 'device', userId: id.userId, deviceSerial: id.serial, apiKeyId: prev.apiKeyId,
        notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime(), pem: cert.pem,
      });
      d.store.certs.markRenewed(prev.serial, cert.serial);
      d.store.devices.setCertificate(id.serial, cert.serial);
      return prev;
    }).immediate();
    d.audit.add({
      userId: id.userId, actor: `device:${id.serial}`, deviceSerial: id.serial, action: 'renew',
      detail: { old: old.serial, cert: cert.serial, ...(old.renewedBy ? { superseded: old.renewedBy } : {}) },
    });
    d.log.info('device certificate renewed', { serial: id.serial, cert: cert.serial, ...(old.renewedBy ? { superseded: old.renewedBy } : {}) });
    return { status: 201, body: issued(cert, id.serial, id.userId) };
  });

  router.on('POST', '/api/v1/disconnect', async (ctx) => {
    const id = certIdentity(ctx);
    if (id.kind !== 'device') throw new HttpError(403, 'forbidden', 'only a device can disconnect itself');
    const revoked: string[] = [];
    d.store.db.transaction(() => {
      for (const c of d.store.certs.list(id.userId)) {
        if (c.deviceSerial === id.serial && c.revokedAt === null && d.store.certs.revoke(c.serial, 'disconnected by the device')) revoked.push(c.serial);
      }
      d.store.devices.markRemoved(id.serial);
    }).immediate();
    d.audit.add({ userId: id.userId, actor: `device:${id.serial}`, deviceSerial: id.serial, action: 'disconnect', detail: { revoked } });
    // Answer first: cutting the MQTT session does not touch this HTTPS connection.
    setImmediate(() => d.sessions.cut(revoked, 'disconnected'));
    return { body: { ok: true, revoked: revoked.length } };
  });

  router.on('GET', '/api/v1/devices', async (ctx) => {
    limit(listByIp, ctx.ip);
    let userId: string;
    if (bearerToken(ctx)) {
      userId = (await apiKeyOf(ctx)).userId;
    } else {
      const id = certIdentity(ctx);
      if (id.kind !== 'user') throw new HttpError(403, 'forbidden', 'the device list needs a user certificate or an API key');
      userId = id.userId;
    }
    d.tracker.flush();
    const devices = d.store.devices.list(userId).map((x) => ({
      serial: x.serial, online: x.online, enrolledAt: x.enrolledAt, lastSeenAt: x.lastSeenAt,
      status: x.lastStatus, stats: x.lastStats, manifest: x.manifest,
    }));
    return { body: { devices } };
  });

  return router;
}

const alreadyRenewed = () => new HttpError(409, 'already_renewed',
  'this certificate was already renewed and its successor is in use: connect this Pi again (pi-agent connect --force)');
