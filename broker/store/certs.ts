import type { Statement } from 'better-sqlite3';
import { type Db, statementCache } from './db.js';
import { type CertKind, type CertRecord, type CertStanding, type CertStore, REVOKE_REASON, type NewCert, type RevokedCert } from './store.js';

interface Row {
  serial: string; kind: CertKind; user_id: number; device_serial: string | null; api_key_id: string | null;
  not_before: number; not_after: number; created_at: number; renewed_by: string | null; first_used_at: number | null;
  revoked_at: number | null; revoke_reason: string | null; pem: string;
}
const toCert = (r: Row): CertRecord => ({
  serial: r.serial, kind: r.kind, userId: String(r.user_id), deviceSerial: r.device_serial, apiKeyId: r.api_key_id,
  notBefore: r.not_before, notAfter: r.not_after, createdAt: r.created_at, renewedBy: r.renewed_by, firstUsedAt: r.first_used_at,
  revokedAt: r.revoked_at, revokeReason: r.revoke_reason, pem: r.pem,
});

export class Certs implements CertStore {
  private readonly q: (sql: string) => Statement;

  constructor(private readonly db: Db, private readonly onRevoke: () => void = () => {}) {
    this.q = statementCache(db);
  }

  add(c: NewCert): void {
    this.q(`INSERT INTO certificates (serial, kind, user_id, device_serial, api_key_id, not_before, not_after, created_at, pem)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(c.serial, c.kind, c.userId, c.deviceSerial, c.apiKeyId, c.notBefore, c.notAfter, Date.now(), c.pem);
  }

  bySerial(serial: string): CertRecord | null {
    const r = this.q('SELECT * FROM certificates WHERE serial = ?').get(serial.toLowerCase()) as Row | undefined;
    return r ? toCert(r) : null;
  }

  /** What authentication needs of a certificate, without its PEM (this runs on every connection). */
  standing(serial: string): CertStanding | null {
    const r = this.q('SELECT kind, user_id, device_serial, first_used_at, revoked_at, revoke_reason FROM certificates WHERE serial = ?').get(serial.toLowerCase()) as
      Pick<Row, 'kind' | 'user_id' | 'device_serial' | 'first_used_at' | 'revoked_at' | 'revoke_reason'> | undefined;
    return r ? {
      kind: r.kind, userId: String(r.user_id), deviceSerial: r.device_serial, firstUsedAt: r.first_used_at, revokedAt: r.revoked_at, revokeReason: r.revoke_reason,
    } : null;
  }

  /**
   * Records the first use of a certificate and retires every predecessor still valid in its line
   * (revoked as REVOKE_REASON.renewed, in the same transaction). Returns the retired serials.
   */
  markUsed(serial: string, now = Date.now()): string[] {
    const retired = this.db.transaction(() => {
      const first = this.q('UPDATE certificates SET first_used_at = ? WHERE serial = ? AND first_used_at IS NULL').run(now, serial.toLowerCase()).changes > 0;
      if (!first) return [];
      const out: string[] = [];
      for (const s of this.predecessors(serial)) {
        if (this.q('UPDATE certificates SET revoked_at = ?, revoke_reason = ? WHERE serial = ? AND revoked_at IS NULL').run(now, REVOKE_REASON.renewed, s).changes > 0) out.push(s);
      }
      return out;
    }).immediate();
    if (retired.length > 0) this.onRevoke();
    return retired;
  }

  /**
   * The successor of a certificate that blocks another renewal from it: its renewal, if that was ever
   * used (or renewed itself, which only a used certificate can be). Null: it may renew.
   */
  usedSuccessor(serial: string): string | null {
    const r = this.q(`SELECT s.serial FROM certificates c JOIN certificates s ON s.serial = c.renewed_by
      WHERE c.serial = ? AND (s.first_used_at IS NOT NULL OR s.renewed_by IS NOT NULL)`).get(serial.toLowerCase()) as { serial: string } | undefined;
    return r?.serial ?? null;
  }

  /** The certificates this one renewed, nearest first (following renewed_by backwards). */
  private predecessors(serial: string): string[] {
    const seen = new Set([serial.toLowerCase()]);
    const out: string[] = [];
    for (let cur = serial.toLowerCase(); ;) {
      const r = this.q('SELECT serial FROM certificates WHERE renewed_by = ?').get(cur) as { serial: string } | undefined;
      if (!r || seen.has(r.serial)) return out;
      seen.add(r.serial);
      out.push(r.serial);
      cur = r.serial;
    }
  }

  /** Every certificate of this one's line: its predecessors, itself and its successors. */
  line(serial: string): string[] {
    const self = serial.toLowerCase();
    const out = [...this.predecessors(self).reverse(), self];
    const seen = new Set(out);
    for (let next = this.bySerial(self)?.renewedBy ?? null; next !== null && !seen.has(next); next = this.bySerial(next)?.renewedBy ?? null) {
      seen.add(next);
      out.push(next);
    }
    return out;
  }

  /** Revokes every certificate of this one's line that is not revoked yet; returns the line and what it revoked. */
  revokeLine(serial: string, reason: string): { line: string[]; revoked: string[] } {
    const r = this.db.transaction(() => {
      const line = this.line(serial);
      const now = Date.now();
      const revoked = line.filter((s) =>
        this.q('UPDATE certificates SET revoked_at = ?, revoke_reason = ? WHERE serial = ? AND revoked_at IS NULL').run(now, reason, s).changes > 0);
      return { line, revoked };
    }).immediate();
    if (r.revoked.length > 0) this.onRevoke();
    return r;
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

  revokeAllOf(userId: string, reason: string): string[] {
    const serials = (this.q('SELECT serial FROM certificates WHERE user_id = ? AND revoked_at IS NULL').all(userId) as Array<{ serial: string }>).map((r) => r.serial);
    const revoked = serials.filter((s) => this.q('UPDATE certificates SET revoked_at = ?, revoke_reason = ? WHERE serial = ? AND revoked_at IS NULL').run(Date.now(), reason, s).changes > 0);
    if (revoked.length > 0) this.onRevoke();
    return revoked;
  }

  /** The certificates of one user's Pi, oldest first. */
  ofDevice(userId: string, serial: string): CertRecord[] {
    return (this.q("SELECT * FROM certificates WHERE kind = 'device' AND user_id = ? AND device_serial = ? ORDER BY created_at")
      .all(userId, serial) as Row[]).map(toCert);
  }

  /** Revoked certificates that have not expired yet, with when and why: what a CRL lists. */
  revokedList(now = Date.now()): RevokedCert[] {
    return (this.q('SELECT serial, revoked_at, revoke_reason FROM certificates WHERE revoked_at IS NOT NULL AND not_after > ? ORDER BY revoked_at')
      .all(now) as Array<{ serial: string; revoked_at: number; revoke_reason: string | null }>)
      .map((r) => ({ serial: r.serial, revokedAt: r.revoked_at, reason: r.revoke_reason }));
  }

  list(userId?: string): CertRecord[] {
    const rows = userId === undefined
      ? this.q('SELECT * FROM certificates ORDER BY created_at').all()
      : this.q('SELECT * FROM certificates WHERE user_id = ? ORDER BY created_at').all(userId);
    return (rows as Row[]).map(toCert);
  }
}
