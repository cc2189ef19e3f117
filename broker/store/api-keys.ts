import type { Statement } from 'better-sqlite3';
import { type Db, statementCache } from './db.js';
import type { ApiKey, ApiKeyStore } from './store.js';

interface Row { id: string; user_id: number; name: string | null; secret_hash: string; created_at: number; last_used_at: number | null; revoked_at: number | null }
const toKey = (r: Row): ApiKey => ({
  id: r.id, userId: String(r.user_id), name: r.name, secretHash: r.secret_hash,
  createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at,
});

export class ApiKeys implements ApiKeyStore {
  private readonly q: (sql: string) => Statement;

  constructor(private readonly db: Db, private readonly onRevoke: () => void = () => {}) {
    this.q = statementCache(db);
  }

  add(id: string, userId: string, name: string | null, secretHash: string): ApiKey {
    this.q('INSERT INTO api_keys (id, user_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, userId, name, secretHash, Date.now());
    return this.byId(id)!;
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
        "UPDATE certificates SET revoked_at = ?, revoke_reason = 'api key revoked' WHERE api_key_id = ? AND revoked_at IS NULL",
      ).run(now, id);
      return { certificates: certs.changes };
    }).immediate();
    if (r && r.certificates > 0) this.onRevoke();
    return r;
  }
}
