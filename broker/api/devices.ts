// A user's Pis: the list (what the hub last heard of each), one Pi, its stats history, and removing
// one (its certificates revoked, its connection cut).
import { z } from 'zod';
import type { AuditWriter } from '../audit-writer.js';
import type { DeviceTracker } from '../device-tracker.js';
import type { Identity } from '../mqtt/identity.js';
import type { SessionRegistry } from '../mqtt/sessions.js';
import { type Device, type HubStore, REVOKE_REASON } from '../store/store.js';
import { type ApiAuth, rateLimit, userIdOf } from './auth.js';
import { HttpError, type Router } from './http.js';
import { RateLimiter } from './rate-limit.js';

export interface DeviceRoutesDeps {
  store: HubStore;
  tracker: DeviceTracker;
  sessions: SessionRegistry;
  audit: AuditWriter;
  /** Deletes a removed Pi's retained messages from the broker's store. */
  forgetRetained: (userId: string, serial: string) => Promise<unknown>;
}

const HistoryQuerySchema = z.object({ since: z.coerce.number().int().nonnegative().default(0) });

const view = (x: Device) => ({
  serial: x.serial, online: x.online, enrolledAt: x.enrolledAt, lastSeenAt: x.lastSeenAt, lastDataAt: x.lastDataAt,
  status: x.lastStatus, stats: x.lastStats, manifest: x.manifest,
});

export function deviceRoutes(router: Router, d: DeviceRoutesDeps, auth: ApiAuth): void {
  // Users and scripts poll these, so they allow more than enrollment does; but per address, before any
  // argon2 or database work, since a bad key or no credential costs the hub that work too.
  const perAddress = rateLimit(new RateLimiter(30, 500), (ctx) => ctx.ip);

  const deviceOf = (userId: string, serial: string): Device => {
    const device = d.store.devices.get(userId, serial);
    if (!device || device.removedAt !== null) throw new HttpError(404, 'not_found', `no Pi ${serial} of yours`);
    return d.tracker.latest(device);
  };

  router.on('GET', '/api/v1/devices', perAddress, auth.requireUser, async (ctx) => {
    return { body: { devices: d.store.devices.list(userIdOf(ctx)).map((x) => view(d.tracker.latest(x))) } };
  });

  router.on('GET', '/api/v1/devices/:serial', perAddress, auth.requireUser, async (ctx) => ({
    body: { device: view(deviceOf(userIdOf(ctx), ctx.params.serial!)) },
  }));

  router.on('GET', '/api/v1/devices/:serial/history', perAddress, auth.requireUser, async (ctx) => {
    const q = HistoryQuerySchema.safeParse(Object.fromEntries(ctx.url.searchParams));
    if (!q.success) throw new HttpError(400, 'invalid_request', 'since: milliseconds since the epoch');
    const device = deviceOf(userIdOf(ctx), ctx.params.serial!);
    // The newest points are still in the tracker (device-tracker.ts): the running minute's, and those of
    // minutes over that wait for the device's routine write. They come after the stored ones.
    const points = d.store.history.range(device.userId, device.serial, q.data.since);
    for (const p of d.tracker.pendingPoints(device.userId, device.serial)) if (p.ts >= q.data.since) points.push(p);
    return { body: { points } };
  });

  router.on('DELETE', '/api/v1/devices/:serial', auth.requireAccount, async (ctx) => {
    const device = deviceOf(userIdOf(ctx), ctx.params.serial!);
    const revoked: string[] = [];
    d.store.transaction(() => {
      for (const c of d.store.certs.ofDevice(device.userId, device.serial)) {
        if (c.revokedAt === null && d.store.certs.revoke(c.serial, REVOKE_REASON.removed)) revoked.push(c.serial);
      }
      d.store.devices.markRemoved(device.userId, device.serial);
      d.store.history.forget(device.userId, device.serial);
    });
    d.tracker.forget(device.userId, device.serial);
    d.sessions.cutCertificates(revoked, 'removed by its owner');
    await d.forgetRetained(device.userId, device.serial);
    const who = ctx.state.identity as Identity;
    d.audit.add({ userId: device.userId, actor: `user:${who.label}`, deviceSerial: device.serial, action: 'device.remove', detail: { revoked } });
    return { body: { revoked: revoked.length } };
  });
}
