// The HTTPS side of the hub: /api/v1 — the hub's public facts (health, the CA, the CRL), a Pi's
// identity (enrollment.ts), a user's Pis (devices.ts) and own things (account.ts) — and the dashboard
// at / (static.ts). Every response carries the security headers.
import type { Logger } from '../../shared/log.js';
import { VERSION } from '../../shared/version.js';
import type { AuditWriter } from '../audit-writer.js';
import type { CertificateAuthority } from '../ca/authority.js';
import type { CrlPublisher } from '../ca/crl.js';
import type { DeviceTracker } from '../device-tracker.js';
import type { IdentityResolver } from '../mqtt/identity.js';
import type { SessionRegistry } from '../mqtt/sessions.js';
import type { HubStore } from '../store/store.js';
import { accountRoutes } from './account.js';
import { ApiAuth } from './auth.js';
import { deviceRoutes } from './devices.js';
import { enrollmentRoutes } from './enrollment.js';
import { HttpError, type Middleware, Router } from './http.js';
import { dashboardRoutes } from './static.js';

export interface ApiDeps {
  store: HubStore;
  ca: CertificateAuthority;
  crl: CrlPublisher;
  sessions: SessionRegistry;
  tracker: DeviceTracker;
  audit: AuditWriter;
  resolvers: IdentityResolver[];
  deviceCertLifetimeMs: number;
  enrollRate: { burst: number; perMinute: number };
  /** Pis one user may have enrolled (hub.json maxDevicesPerUser). */
  maxDevicesPerUser: number;
  /** How Pis reach the hub (hub.json publicUrl, or the host name and the port it listens on). */
  publicUrl: () => string;
  /** Deletes a removed Pi's retained messages from the broker's store. */
  forgetRetained: (userId: string, serial: string) => Promise<unknown>;
  log: Logger;
}

/** What every response says about itself; a page served later may loosen the CSP for itself. */
export const securityHeaders: Middleware = async (_ctx, next) => {
  const reply = await next();
  reply.headers = {
    'strict-transport-security': 'max-age=31536000',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    ...reply.headers,
  };
  return reply;
};

export function createApi(d: ApiDeps): Router {
  const router = new Router(d.log).use(securityHeaders);
  const auth = new ApiAuth(d);

  router.on('GET', '/api/v1/health', async () => ({ body: { ok: true, version: VERSION } }));

  router.on('GET', '/api/v1/ca', async () => ({
    body: { fingerprint: d.ca.fingerprint, root: d.ca.rootPem, chain: d.ca.chainPem, trustDomain: d.ca.trustDomain },
  }));

  // The CRL for software that trusts the same CA: DER as CRL distribution points serve it, or PEM.
  router.on('GET', '/api/v1/ca/crl', async (ctx) => {
    const pem = ctx.url.searchParams.get('format') === 'pem';
    const body = pem ? d.crl.pem : d.crl.der;
    if (!body) throw new HttpError(503, 'unavailable', 'the CRL could not be made; see the hub log');
    return { raw: body, type: pem ? 'application/x-pem-file' : 'application/pkix-crl', headers: { 'cache-control': 'max-age=60' } };
  });

  enrollmentRoutes(router, d, auth);

  deviceRoutes(router, d, auth);
  accountRoutes(router, d, auth);
  dashboardRoutes(router, d.log);

  return router;
}
