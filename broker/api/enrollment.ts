// A Pi's identity at the hub: enrollment with an API key, renewal and disconnect with its device
// certificate (mTLS).
import type { Logger } from '../../shared/log.js';
import { EnrollRequestSchema, type IssuedCertificate, RenewRequestSchema } from '../../shared/schemas.js';
import type { AuditWriter } from '../audit-writer.js';
import { type CertificateAuthority, CsrError, type IssuedCert, issuedRecord } from '../ca/authority.js';
import { resolveIdentity, type IdentityResolver } from '../mqtt/identity.js';
import type { SessionRegistry } from '../mqtt/sessions.js';
import { type HubStore, REVOKE_REASON } from '../store/store.js';
import { type ApiAuth, apiKeyOf, identityOf, rateLimit } from './auth.js';
import { HttpError, type Router, readJson } from './http.js';
import { RateLimiter } from './rate-limit.js';

export interface EnrollmentDeps {
  store: HubStore;
  ca: CertificateAuthority;
  sessions: SessionRegistry;
  audit: AuditWriter;
  resolvers: IdentityResolver[];
  deviceCertLifetimeMs: number;
  /** Enrollments and renewals per client address: this many at once, then this many a minute. */
  enrollRate: { burst: number; perMinute: number };
  /** Pis one user may have enrolled (hub.json maxDevicesPerUser). */
  maxDevicesPerUser: number;
  log: Logger;
}

const alreadyRenewed = () => new HttpError(409, 'already_renewed',
  'this certificate was already renewed and its successor is in use: connect this Pi again (pi-agent connect --force)');

export function enrollmentRoutes(router: Router, d: EnrollmentDeps, auth: ApiAuth): void {
  // Each costs an argon2 verification and a signature; a school behind one NAT may enroll many Pis.
  const perAddress = rateLimit(new RateLimiter(d.enrollRate.burst, 60_000 / d.enrollRate.perMinute), (ctx) => ctx.ip);

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

  router.on('POST', '/api/v1/enroll', perAddress, auth.requireApiKey('enroll'), async (ctx) => {
    const key = apiKeyOf(ctx);
    const body = await readJson(ctx, EnrollRequestSchema);
    // A Pi is (user, serial): whatever other users enrolled under the same serial is theirs, neither
    // in the way nor revealed here.
    // Checked before signing and again in the transaction (another enrollment may finish meanwhile).
    const overQuota = () => !d.store.devices.isEnrolled(key.userId, body.serial) && d.store.devices.count(key.userId) >= d.maxDevicesPerUser;
    const quotaError = () => {
      d.audit.addThrottled(`enroll.refused:${key.userId}`, {
        userId: key.userId, actor: `apikey:${key.id}`, deviceSerial: body.serial, action: 'enroll.refused', detail: { reason: 'device quota', max: d.maxDevicesPerUser, ip: ctx.ip },
      });
      return new HttpError(403, 'device_quota', `this user has ${d.maxDevicesPerUser} Pis enrolled, the most the hub allows (maxDevicesPerUser); remove one first`);
    };
    if (overQuota()) throw quotaError();
    const cert = await sign(body.csr, body.serial, key.userId);
    const replaced: string[] = [];
    d.store.transaction(() => {
      if (overQuota()) throw quotaError();
      if (!d.store.apiKeys.takeUse(key.id)) throw new HttpError(403, 'key_used_up', 'this API key has enrolled as many Pis as it was made for; create a new one: pi-hub apikey create');
      d.store.certs.add(issuedRecord(cert, { kind: 'device', userId: key.userId, deviceSerial: body.serial, apiKeyId: key.id }));
      // The same user enrolling the serial again replaces, and revokes, the old certificates.
      for (const old of d.store.certs.ofDevice(key.userId, body.serial)) {
        if (old.serial !== cert.serial && old.revokedAt === null && d.store.certs.revoke(old.serial, REVOKE_REASON.replaced)) replaced.push(old.serial);
      }
      d.store.devices.enroll(key.userId, body.serial, key.id, cert.serial);
    });
    if (replaced.length > 0) d.sessions.cutCertificates(replaced, 'replaced by a new enrollment');
    d.audit.add({ userId: key.userId, actor: `apikey:${key.id}`, deviceSerial: body.serial, action: 'enroll', detail: { cert: cert.serial, ip: ctx.ip } });
    d.log.info('device enrolled', { serial: body.serial, user: key.userId, key: key.id, cert: cert.serial });
    return { status: 201, body: issued(cert, body.serial, key.userId) };
  });

  // Renewal keeps one usable certificate per line (the enrollment certificate and its renewals,
  // linked by renewed_by). The old certificate is NOT retired here: the response may be lost on the
  // way to the Pi, which must stay connected with the old one. It is retired when the new one is
  // first used (CertificateResolver). Until then the old one may renew again: that supersedes (revokes)
  // the unused renewal. Once the renewal is in use, 409 already_renewed.
  router.on('POST', '/api/v1/renew', perAddress, async (ctx) => {
    const who = resolveIdentity(d.resolvers, ctx.socket, ctx.req);
    if (!who.ok) throw who.renewed ? alreadyRenewed() : auth.unauthorized(ctx, who.reason);
    const id = who.identity;
    if (id.kind !== 'device' || !id.certSerial) throw new HttpError(403, 'forbidden', 'renewal needs a device certificate');
    const body = await readJson(ctx, RenewRequestSchema);
    if (d.store.certs.usedSuccessor(id.certSerial)) throw alreadyRenewed();
    const cert = await sign(body.csr, id.serial, id.userId);
    const old = d.store.transaction(() => {
      // Again, inside the transaction: another renewal of the same certificate may have finished while this one was signed.
      if (d.store.certs.usedSuccessor(id.certSerial!)) throw alreadyRenewed();
      const prev = d.store.certs.bySerial(id.certSerial!)!;
      if (prev.renewedBy) d.store.certs.revoke(prev.renewedBy, REVOKE_REASON.superseded);
      d.store.certs.add(issuedRecord(cert, { kind: 'device', userId: id.userId, deviceSerial: id.serial, apiKeyId: prev.apiKeyId }));
      d.store.certs.markRenewed(prev.serial, cert.serial);
      d.store.devices.setCertificate(id.userId, id.serial, cert.serial);
      return prev;
    });
    const superseded = old.renewedBy ? { superseded: old.renewedBy } : {};
    d.audit.add({ userId: id.userId, actor: `device:${id.serial}`, deviceSerial: id.serial, action: 'renew', detail: { old: old.serial, cert: cert.serial, ...superseded } });
    d.log.info('device certificate renewed', { serial: id.serial, cert: cert.serial, ...superseded });
    return { status: 201, body: issued(cert, id.serial, id.userId) };
  });

  router.on('POST', '/api/v1/disconnect', auth.requireDevice, async (ctx) => {
    const id = identityOf(ctx);
    const revoked: string[] = [];
    d.store.transaction(() => {
      for (const c of d.store.certs.ofDevice(id.userId, id.serial)) {
        if (c.revokedAt === null && d.store.certs.revoke(c.serial, REVOKE_REASON.disconnected)) revoked.push(c.serial);
      }
      d.store.devices.markRemoved(id.userId, id.serial);
    });
    d.audit.add({ userId: id.userId, actor: `device:${id.serial}`, deviceSerial: id.serial, action: 'disconnect', detail: { revoked } });
    // Answer first: cutting the MQTT session does not touch this HTTPS connection.
    setImmediate(() => d.sessions.cutCertificates(revoked, 'disconnected'));
    return { body: { ok: true, revoked: revoked.length } };
  });
}
