import type { Statement } from 'better-sqlite3';
import { type Db, statementCache } from './db.js';
import { API_SCOPES, type ApiKey, type ApiKeyLimits, type ApiKeyStore, type ApiScope, REVOKE_REASON } from './store.js';

interface Row {
  id: string; user_id: number; name: string | null; secret_hash: string; created_at: number; last_used_at: number | null; revoked_at: number | null;
  scopes: string; uses_left: number | null; expires_at: number | null;
}
const toKey = (r: Row): ApiKey => ({
  id: r.id, userId: String(r.user_id), name: r.name, secretHash: r.secret_hash,
  createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at,
  scopes: r.scopes.split(',').filter((x): x is ApiScope => (API_SCOPES as readonly string[]).includes(x)),
  usesLeft: r.uses_left, expiresAt: r.expires_at,
});

export class ApiKeys implements ApiKeyStore {
  private readonly q: (sql: string) => Statement;

  constructor(private readonly db: Db, private readonly onRevoke: () => void = () => {}) {
    this.q = statementCache(db);
  }

  add(id: string, userId: string, name: string | null, secretHash: string, limits: ApiKeyLimits): ApiKey {
    this.q('INSERT INTO api_keys (id, user_id, name, secret_hash, created_at, scopes, uses_left, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, userId, name, secretHash, Date.now(), limits.scopes.join(','), limits.uses, limits.expiresAt);
    return this.byId(id)!;
  }

  /** Takes one use of a key limited to N uses; false when none is left (an unlimited key always has one). */
  takeUse(id: string): boolean {
    return this.q('UPDATE api_keys SET uses_left = uses_left - 1 WHERE id = ? AND uses_left > 0').run(id).changes > 0
      || this.q('SELECT 1 FROM api_keys WHERE id = ? AND uses_left IS NULL').get(id) !== undefined;
  }

  byId(id: string): ApiKey | null {
    const r = this.q('SELECT * FROM api_keys WHERE id = ?').get(id) as Row | undefined;
    return r ? toKey(r) : null;
  }

  list(userId?: string): ApiKey[] {
    const rows = userId === undefined
      ? this.q('SELECT * FROM api_keys ORDER BY created_at').all()
      : this.q('SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at').all(userId);
    return (rows as Row[]).map(toKey);
  }

  touch(id: string): void {
    this.q('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(Date.now(), id);
  }

  /**
   * Revokes the key and every device certificate issued with it (docs/ARCHITECTURE.md "Revocation").
   * Returns the number of certificates revoked, or null if the key does not exist.
   */
  revoke(id: string): { certificates: number } | null {
    const r = this.db.transaction(() => {
      const now = Date.now();
      const key = this.q('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?').run(now, id);
      if (key.changes === 0) return null;
      const certs = this.q(
        'UPDATE certificates SET revoked_at = ?, revoke_reason = ? WHERE api_key_id = ? AND revoked_at IS NULL',
      ).run(now, REVOKE_REASON.apiKey, id);
      return { certificates: certs.changes };
    }).immediate();
    if (r && r.certificates > 0) this.onRevoke();
    return r;
  }
}
