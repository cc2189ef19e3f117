// The hub's control-plane data behind one interface: users, API keys, certificates, devices, the audit
// log and settings. SqliteStore (sqlite-store.ts) is the one implementation: the control plane stays on
// one node even when several hub nodes share the broker's state (docs/ARCHITECTURE.md, "Scale").
// Records and pure rules over them live here too, so the interface depends on nothing.

export interface User {
  id: string;
  name: string;
  isAdmin: boolean;
  createdAt: number;
  passwordHash: string | null;
}

/** What an API key may do: enroll Pis (the default), read the user's devices. */
export const API_SCOPES = ['enroll', 'read'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** A key's scopes, and for a provisioning key how often and how long it may be used (null: unlimited). */
export interface ApiKeyLimits { scopes: ApiScope[]; uses: number | null; expiresAt: number | null }

export interface ApiKey {
  id: string;
  userId: string;
  name: string | null;
  secretHash: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  scopes: ApiScope[];
  /** Enrollments left, or null for unlimited. */
  usesLeft: number | null;
  expiresAt: number | null;
}

export type CertKind = 'device' | 'user';

export interface CertRecord {
  serial: string;
  kind: CertKind;
  userId: string;
  deviceSerial: string | null;
  apiKeyId: string | null;
  notBefore: number;
  notAfter: number;
  createdAt: number;
  renewedBy: string | null;
  /** When a client first presented it (MQTT or the API). */
  firstUsedAt: number | null;
  revokedAt: number | null;
  revokeReason: string | null;
  pem: string;
}

/** What authentication needs of a certificate, without its PEM (this runs on every connection). */
export type CertStanding = Pick<CertRecord, 'kind' | 'userId' | 'deviceSerial' | 'firstUsedAt' | 'revokedAt' | 'revokeReason'>;

export interface RevokedCert { serial: string; revokedAt: number; reason: string | null }

/** A certificate just issued, as recorded. */
export type NewCert = Omit<CertRecord, 'createdAt' | 'renewedBy' | 'firstUsedAt' | 'revokedAt' | 'revokeReason'>;

/**
 * Why the hub revoked a certificate (certificates.revoke_reason; the CRL's reason is derived from it).
 * A renewal line is an enrollment certificate and the chain of its renewals (renewed_by); at most one
 * of them is usable once a renewal is in use.
 */
export const REVOKE_REASON = {
  /** Retired: its renewal was used. */
  renewed: 'renewed',
  /** A renewal never used, replaced by a second renewal of the same certificate (its response was lost). */
  superseded: 'superseded',
  /** The same user enrolled the Pi again. */
  replaced: 'replaced by a new enrollment',
  /** `pi-agent disconnect`. */
  disconnected: 'disconnected by the device',
  /** The API key it was enrolled with was revoked. */
  apiKey: 'api key revoked',
  /** `pi-hub cert revoke`. */
  operator: 'revoked by an operator',
  /** `pi-hub user remove`. */
  userRemoved: 'its user was removed',
  /** Its owner removed the Pi (the dashboard, DELETE /api/v1/devices/:serial). */
  removed: 'removed by its owner',
} as const;

/** What `pi-hub cert list` shows: a certificate retired by its renewal's first use is `renewed`, not `revoked`. */
export function certState(c: Pick<CertRecord, 'revokedAt' | 'revokeReason' | 'notAfter'>, now = Date.now()): 'renewed' | 'revoked' | 'expired' | 'valid' {
  if (c.revokedAt !== null) return c.revokeReason === REVOKE_REASON.renewed ? 'renewed' : 'revoked';
  return c.notAfter < now ? 'expired' : 'valid';
}

export interface Device {
  serial: string;
  userId: string;
  apiKeyId: string | null;
  certSerial: string | null;
  enrolledAt: number;
  removedAt: number | null;
  lastSeenAt: number | null;
  /** When it last sent stats: a Pi can be connected and silent. */
  lastDataAt: number | null;
  online: boolean;
  lastStatus: unknown;
  lastStats: unknown;
  manifest: unknown;
}

/** What devices reported since their last write (DeviceTracker). */
export interface DeviceReport {
  serial: string;
  userId: string;
  seenAt: number;
  online?: boolean;
  status?: unknown;
  stats?: unknown;
  /** When `stats` came (their sample's time; `seenAt` when absent). */
  dataAt?: number;
  manifest?: unknown;
}

/** A browser session (the dashboard); its token lives only in the cookie. */
export interface Session {
  id: string;
  userId: string;
  createdAt: number;
  lastUsedAt: number;
  /** When it ends unless used again (idle) or at the latest (its start + the maximum). */
  expiresAt: number;
  endedAt: number | null;
  address: string | null;
  userAgent: string | null;
}

/** A point of a Pi's stats history: the values the dashboard charts. */
export interface HistoryPoint {
  ts: number;
  load: number | null;
  tempC: number | null;
  memUsed: number | null;
  memTotal: number | null;
  diskUsed: number | null;
  diskSize: number | null;
}

export interface AuditEntry {
  ts: number;
  userId: string | null;
  actor: string;
  deviceSerial: string | null;
  action: string;
  detail: unknown;
}

export interface UserStore {
  add(name: string, passwordHash: string | null, isAdmin: boolean): User;
  byName(name: string): User | null;
  byId(id: string): User | null;
  list(): User[];
  setPassword(id: string, passwordHash: string): void;
  /** The user is gone (its name free again); what it held is revoked by the caller. */
  remove(id: string): boolean;
}

export interface ApiKeyStore {
  add(id: string, userId: string, name: string | null, secretHash: string, limits: ApiKeyLimits): ApiKey;
  /** Takes one use of a key limited to N uses; false when none is left (an unlimited key always has one). */
  takeUse(id: string): boolean;
  byId(id: string): ApiKey | null;
  list(userId?: string): ApiKey[];
  touch(id: string): void;
  /** Revokes the key and every device certificate issued with it; null if there is no such key. */
  revoke(id: string): { certificates: number } | null;
}

export interface CertStore {
  add(c: NewCert): void;
  bySerial(serial: string): CertRecord | null;
  standing(serial: string): CertStanding | null;
  /** Records the first use of a certificate and retires its predecessors; returns those retired. */
  markUsed(serial: string, now?: number): string[];
  /** The renewal of this certificate that blocks another renewal from it (used, or renewed itself), or null. */
  usedSuccessor(serial: string): string | null;
  /** Every certificate of this one's renewal line, oldest first. */
  line(serial: string): string[];
  revokeLine(serial: string, reason: string): { line: string[]; revoked: string[] };
  revoke(serial: string, reason: string): boolean;
  /** Revokes every certificate a user holds; returns their serials. */
  revokeAllOf(userId: string, reason: string): string[];
  markRenewed(oldSerial: string, newSerial: string): void;
  /** Serials of revoked certificates that have not expired yet. */
  revokedSerials(now?: number): string[];
  /** The same, with when and why (a CRL's entries). */
  revokedList(now?: number): RevokedCert[];
  /** The certificates of one user's Pi, oldest first. */
  ofDevice(userId: string, serial: string): CertRecord[];
  /** Certificates expiring before `before`, neither renewed nor revoked. */
  expiring(before: number): CertRecord[];
  list(userId?: string): CertRecord[];
}

/** A device is its user's Pi with that serial: two users may each have a Pi with the same serial. */
export interface DeviceStore {
  get(userId: string, serial: string): Device | null;
  isEnrolled(userId: string, serial: string): boolean;
  enroll(userId: string, serial: string, apiKeyId: string | null, certSerial: string): void;
  setCertificate(userId: string, serial: string, certSerial: string): void;
  markAllOffline(): void;
  markRemoved(userId: string, serial: string): void;
  list(userId?: string): Device[];
  /** How many Pis the user has enrolled (not removed). */
  count(userId: string): number;
  applyReports(reports: Iterable<DeviceReport>): void;
}

export interface SessionStore {
  create(userId: string, address: string | null, userAgent: string | null, now?: number): { token: string; session: Session };
  byId(id: string): Session | null;
  /** The live session this token opens (its use recorded), or null. */
  byToken(token: string, now?: number): Session | null;
  list(userId: string, now?: number): Session[];
  end(id: string, now?: number): boolean;
  endAllOf(userId: string, now?: number): number;
  /** Which of these sessions are no longer live (ended or expired). */
  endedAmong(ids: string[], now?: number): string[];
}

export interface HistoryStore {
  add(samples: Iterable<{ userId: string; serial: string; point: HistoryPoint }>): void;
  range(userId: string, serial: string, since: number, now?: number): HistoryPoint[];
  prune(now?: number): number;
  forget(userId: string, serial: string): void;
}

export interface AuditStore {
  add(e: Omit<AuditEntry, 'ts'> & { ts?: number }): void;
  addMany(entries: AuditEntry[]): void;
  /** Deletes entries older than `before` and all but the newest `maxRows`; returns how many went. */
  prune(before: number, maxRows: number): number;
  list(filter?: { deviceSerial?: string; userId?: string; action?: string; limit?: number; before?: number }): Array<AuditEntry & { id: number }>;
}

export interface HubStore {
  readonly users: UserStore;
  readonly apiKeys: ApiKeyStore;
  readonly certs: CertStore;
  readonly devices: DeviceStore;
  readonly audit: AuditStore;
  readonly sessions: SessionStore;
  readonly history: HistoryStore;
  getSetting(key: string): string | null;
  setSetting(key: string, value: string): void;
  /** Runs `fn` as one write transaction: all of it or nothing. */
  transaction<T>(fn: () => T): T;
  /** Tells a live hub of revocations, made by it or by another process on the same data. */
  revocationFeed(): RevocationFeed;
  close(): void;
}

/**
 * Revocations as they happen, for cutting live sessions: by this process (the API), by the CLI working
 * on the same database, or — with several hub nodes — by another node.
 */
export interface RevocationFeed {
  /** Calls `onChange` whenever a revocation may have happened since the last call. */
  start(onChange: () => void): void;
  stop(): void;
}
