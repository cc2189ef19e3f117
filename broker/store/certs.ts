import type { Statement } from 'better-sqlite3';
import { type Db, statementCache } from './db.js';

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
  revokedAt: number | null;
  revokeReason: string | null;
  pem: string;
}

interface Row {
  serial: string; kind: CertKind; user_id: number; device_serial: string | null; api_key_id: string | null;
  not_before: number; not_after: number; created_at: number; renewed_by: string | null;
  revoked_at: number | null; revoke_reason: string | null; pem: string;
}
const toCert = (r: Row): CertRecord => ({
  serial: r.serial, kind: r.kind, userId: String(r.user_id), deviceSerial: r.device_serial, apiKeyId: r.api_key_id,
  notBefore: r.not_before, notAfter: r.not_after, createdAt: r.created_at, renewedBy: r.renewed_by,
  revokedAt: r.revoked_at, revokeReason: r.revoke_reason, pem: r.pem,
});

export class Certs {
  private readonly q: (sql: string) => Statement;

  constructor(private readonly db: Db, private readonly onRevoke: () => void = () => {}) {
    this.q = statementCache(db);
  }

  add(c: Omit<CertRecord, 'createdAt' | 'renewedBy' | 'revokedAt' | 'revokeReason'>): void {
    this.q(`INSERT INTO certificates (serial, kind, user_id, device_serial, api_key_id, not_before, not_after, created_at, pem)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(c.serial, c.kind, c.userId, c.deviceSerial, c.apiKeyId, c.notBefore, c.notAfter, Date.now(), c.pem);
  }

  bySerial(serial: string): CertRecord | null {
    const r = this.q('SELECT * FROM certificates WHERE serial = ?').get(serial.toLowerCase()) as Row | undefined;
    return r ? toCert(r) : null;
  }

  /** What authentication needs of a certificate, without its PEM (this runs on every connection). */
  standing(serial: string): Pick<CertRecord, 'kind' | 'userId' | 'deviceSerial' | 'revokedAt' | 'revokeReason'> | null {
    const r = this.q('SELECT kind, user_id, device_serial, revoked_at, revoke_reason FROM certificates WHERE serial = ?').get(serial.toLowerCase()) as
      Pick<Row, 'kind' | 'user_id' | 'device_serial' | 'revoked_at' | 'revoke_reason'> | undefined;
    return r ? { kind: r.kind, userId: String(r.user_id), deviceSerial: r.device_serial, revokedAt: r.revoked_at, revokeReason: r.revoke_reason } : null;
  }

  revoke(serial: string, reason: string): boolean {
    const revoked = this.q('UPDATE certificates SET revoked_at = ?, revoke_reason = ? WHERE serial = ? AND revoked_at IS NULL')
      .run(Date.now(), reason, serial.toLowerCase()).changes > 0;
    if (revoked) this.onRevoke();
    return revoked;
  }

  markRenewed(oldSerial: string, newSerial: string): void {
    this.q('UPDATE certificates SET renewed_by = ? WHERE serial = ?').run(newSerial, oldSerial);
  }

  /** Serials of every revoked certificate that has not expired yet (expired ones TLS refuses anyway). */
  revokedSerials(now = Date.now()): string[] {
    return (this.q('SELECT serial FROM certificates WHERE revoked_at IS NOT NULL AND not_after > ?').all(now) as Array<{ serial: string }>)
      .map((r) => r.serial);
  }

  /** Certificates expiring before `before` that were neither renewed nor revoked (Lemur's expiration notices). */
  expiring(before: number): CertRecord[] {
    return (this.q(`SELECT * FROM certificates
      WHERE revoked_at IS NULL AND renewed_by IS NULL AND not_after < ? ORDER BY not_after`).all(before) as Row[]).map(toCert);
  }

  list(userId?: string): CertRecord[] {
    const rows = userId === undefined
      ? this.q('SELECT * FROM certificates ORDER BY created_at').all()
      : this.q('SELECT * FROM certificates WHERE user_id = ? ORDER BY created_at').all(userId);
    return (rows as Row[]).map(toCert);
  }
}
