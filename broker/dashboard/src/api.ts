// The hub's JSON API, same origin (docs/ARCHITECTURE.md, "The dashboard's API"). Every change carries
// the CSRF header the hub requires of a browser; every error is one readable message.
import type { DoctorReport, Manifest, Stats, Status } from '../../../shared/schemas.js';

export interface Me {
  user: { id: string; name: string; isAdmin: boolean };
  via: 'session' | 'certificate';
  session: { id: string; createdAt: number; expiresAt: number } | null;
  hub: { publicUrl: string; fingerprint: string };
}

/** What the hub last heard of a Pi; status, stats and manifest as received (null before). */
export interface DeviceView {
  serial: string;
  online: boolean;
  enrolledAt: number;
  lastSeenAt: number | null;
  lastDataAt: number | null;
  status: Status | null;
  stats: Stats | null;
  manifest: Manifest | null;
}

export interface HistoryPoint {
  ts: number; load: number | null; tempC: number | null; memUsed: number | null; memTotal: number | null; diskUsed: number | null; diskSize: number | null;
}

export interface ApiKey {
  id: string; name: string | null; scopes: string[]; usesLeft: number | null; expiresAt: number | null;
  createdAt: number; lastUsedAt: number | null; revokedAt: number | null;
}

export interface SessionView {
  id: string; createdAt: number; lastUsedAt: number; expiresAt: number; address: string | null; userAgent: string | null; current: boolean;
}

export interface AuditEntry { id: number; ts: number; actor: string; deviceSerial: string | null; action: string; detail: unknown }

export type { DoctorReport };

/** An answer other than success: the hub's `{error:{code,message}}`, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['x-pifleet-csrf'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'the hub cannot be reached');
  }
  if (res.status === 204) return undefined as T;
  const data = await res.json().catch(() => null) as { error?: { code?: string; message?: string } } | null;
  if (!res.ok) {
    const e = data?.error;
    throw new ApiError(res.status, e?.code ?? 'http', e?.message ?? `the hub answered ${res.status}`);
  }
  return data as T;
}

export const api = {
  me: () => call<Me>('GET', '/api/v1/me'),
  login: (username: string, password: string) => call<void>('POST', '/api/v1/session', { username, password }),
  logout: () => call<void>('DELETE', '/api/v1/session'),
  devices: () => call<{ devices: DeviceView[] }>('GET', '/api/v1/devices').then((r) => r.devices),
  device: (serial: string) => call<{ device: DeviceView }>('GET', `/api/v1/devices/${encodeURIComponent(serial)}`).then((r) => r.device),
  removeDevice: (serial: string) => call<{ revoked: number }>('DELETE', `/api/v1/devices/${encodeURIComponent(serial)}`),
  history: (serial: string, since: number) =>
    call<{ points: HistoryPoint[] }>('GET', `/api/v1/devices/${encodeURIComponent(serial)}/history?since=${since}`).then((r) => r.points),
  keys: () => call<{ keys: ApiKey[] }>('GET', '/api/v1/apikeys').then((r) => r.keys),
  createKey: (body: { name?: string; scopes?: string[]; uses?: number; expiresInSec?: number }) =>
    call<ApiKey & { key: string }>('POST', '/api/v1/apikeys', body),
  revokeKey: (id: string) => call<{ certificates: number }>('DELETE', `/api/v1/apikeys/${encodeURIComponent(id)}`),
  sessions: () => call<{ sessions: SessionView[] }>('GET', '/api/v1/sessions').then((r) => r.sessions),
  endSession: (id: string) => call<void>('DELETE', `/api/v1/sessions/${encodeURIComponent(id)}`),
  audit: (before?: number) => call<{ entries: AuditEntry[]; next: number | null }>('GET', `/api/v1/audit?limit=50${before ? `&before=${before}` : ''}`),
};
