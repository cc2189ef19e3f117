// Who is on the other end of a connection, decided from the TLS client certificate before MQTT
// CONNECT. A device certificate (CN = serial, SAN spiffe://<td>/user/<id>/device/<serial>) is that
// device; a user certificate (SAN spiffe://<td>/user/<id>) is that user. Resolvers form a list so the
// dashboard's session cookie can be added at the WebSocket upgrade without touching the broker.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { parseSpiffeId } from '../../shared/pki.js';
import type { Principal } from './mountpoint.js';
import { type HubStore, REVOKE_REASON } from '../store/store.js';

export type Identity = Principal & {
  /** How it was established; a session (dashboard) has no certificate. */
  via: 'certificate' | 'session';
  certSerial: string | null;
  /** The dashboard session it came with (`via: 'session'`). */
  sessionId: string | null;
  /** ms since epoch: the session is cut when the certificate expires. */
  notAfter: number | null;
  /** For logs and the audit log: `alice`, or the device serial. */
  label: string;
};

export type IdentityResult =
  | { ok: true; identity: Identity }
  /** `renewed`: the certificate was retired because its renewal is in use. */
  | { ok: false; reason: string; renewed?: boolean };

export interface IdentityResolver {
  resolve(socket: TLSSocket, req: IncomingMessage | null): IdentityResult | null; // null: not mine, ask the next
}

export class CertificateResolver implements IdentityResolver {
  constructor(private readonly store: HubStore, private readonly trustDomain: string) {}

  resolve(socket: TLSSocket): IdentityResult | null {
    // getPeerCertificate(), not getPeerX509Certificate(): the same facts at a quarter of the cost per
    // handshake, and this runs on every connection.
    const cert = socket.getPeerCertificate?.();
    if (!cert || !cert.serialNumber) return null;
    if (!socket.authorized) return { ok: false, reason: `certificate refused: ${String(socket.authorizationError)}` };
    const serial = cert.serialNumber.toLowerCase();
    const record = this.store.certs.standing(serial);
    if (!record) return { ok: false, reason: `certificate ${serial} was not issued by this hub` };
    if (record.revokedAt !== null) {
      return record.revokeReason === REVOKE_REASON.renewed
        ? { ok: false, reason: `certificate ${serial} was renewed and its successor is in use`, renewed: true }
        : { ok: false, reason: `certificate ${serial} is revoked (${record.revokeReason ?? 'revoked'})` };
    }
    const ids = sanUris(cert.subjectaltname).map(parseSpiffeId).filter((x) => x !== null);
    if (ids.length !== 1) return { ok: false, reason: 'certificate carries no single SPIFFE id' };
    const id = ids[0]!;
    if (id.trustDomain !== this.trustDomain) return { ok: false, reason: `certificate is for trust domain ${id.trustDomain}` };
    if (id.userId !== record.userId || id.kind !== record.kind) return { ok: false, reason: 'certificate does not match its record' };
    const user = this.store.users.byId(id.userId);
    if (!user) return { ok: false, reason: `user ${id.userId} does not exist` };
    const notAfter = new Date(cert.valid_to).getTime();
    if (id.kind === 'device' && (cert.subject?.CN !== id.serial || record.deviceSerial !== id.serial)) {
      return { ok: false, reason: 'device certificate CN does not match its SPIFFE id' };
    }
    // The first use of a renewal retires its predecessor (README.md, "Certificate renewal"); a write only once per
    // certificate. Not recorded, the predecessor could still renew and supersede this one: refuse.
    if (record.firstUsedAt === null) {
      try {
        this.store.certs.markUsed(serial);
      } catch (err) {
        return { ok: false, reason: `cannot record the first use of certificate ${serial}: ${(err as Error).message}` };
      }
    }
    if (id.kind === 'device') {
      return { ok: true, identity: { kind: 'device', userId: id.userId, serial: id.serial, via: 'certificate', certSerial: serial, sessionId: null, notAfter, label: id.serial } };
    }
    return { ok: true, identity: { kind: 'user', userId: id.userId, via: 'certificate', certSerial: serial, sessionId: null, notAfter, label: user.name } };
  }
}

/** The dashboard's session cookie. */
export const SESSION_COOKIE = 'pifleet_session';

/** A cookie's value in a Cookie header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

/**
 * A browser's dashboard session, from its cookie: at the WebSocket upgrade (the page's MQTT
 * connection) and for the API. Asked after the certificate resolver: a certificate wins.
 */
export class SessionResolver implements IdentityResolver {
  constructor(private readonly store: HubStore) {}

  resolve(_socket: TLSSocket, req: IncomingMessage | null): IdentityResult | null {
    const token = cookieValue(req?.headers.cookie, SESSION_COOKIE);
    if (!token) return null;
    const session = this.store.sessions.byToken(token);
    if (!session) return { ok: false, reason: 'the session ended or expired: log in again' };
    const user = this.store.users.byId(session.userId);
    if (!user) return { ok: false, reason: `user ${session.userId} does not exist` };
    return {
      ok: true,
      identity: { kind: 'user', userId: user.id, via: 'session', certSerial: null, sessionId: session.id, notAfter: session.expiresAt, label: user.name },
    };
  }
}

/** The URI entries of a subjectaltname string (`URI:spiffe://…, DNS:…`). */
function sanUris(san: string | undefined): string[] {
  return (san ?? '').split(/,\s*/).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
}

export function resolveIdentity(resolvers: IdentityResolver[], socket: TLSSocket, req: IncomingMessage | null): IdentityResult {
  for (const r of resolvers) {
    const result = r.resolve(socket, req);
    if (result) return result;
  }
  return { ok: false, reason: 'no client certificate' };
}
