import { z } from 'zod';
import type { Statement } from 'better-sqlite3';
import { type Db, statementCache } from './db.js';
import type { User, UserStore } from './store.js';

export const UserNameSchema = z.string().regex(/^[a-z][a-z0-9_.-]{0,31}$/, 'a user name is 1–32 of a–z, 0–9, _ . -, starting with a letter');

interface Row { id: number; name: string; is_admin: number; created_at: number; password_hash: string | null }
const toUser = (r: Row): User => ({ id: String(r.id), name: r.name, isAdmin: r.is_admin === 1, createdAt: r.created_at, passwordHash: r.password_hash });

export class Users implements UserStore {
  private readonly q: (sql: string) => Statement;

  constructor(db: Db) {
    this.q = statementCache(db);
  }

  add(name: string, passwordHash: string | null, isAdmin: boolean): User {
    const info = this.q('INSERT INTO users (name, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?)')
      .run(name, passwordHash, isAdmin ? 1 : 0, Date.now());
    return this.byId(String(info.lastInsertRowid))!;
  }

  byName(name: string): User | null {
    const r = this.q('SELECT * FROM users WHERE name = ? AND removed_at IS NULL').get(name) as Row | undefined;
    return r ? toUser(r) : null;
  }

  byId(id: string): User | null {
    const r = this.q('SELECT * FROM users WHERE id = ? AND removed_at IS NULL').get(id) as Row | undefined;
    return r ? toUser(r) : null;
  }

  list(): User[] {
    return (this.q('SELECT * FROM users WHERE removed_at IS NULL ORDER BY id').all() as Row[]).map(toUser);
  }

  /**
   * Removes a user: kept as a row (the audit log, the CRL and its certificates refer to it), renamed
   * `<name>#<id>` so the name is free again, never found again. The caller revokes what it held.
   */
  remove(id: string): boolean {
    return this.q("UPDATE users SET removed_at = ?, name = name || '#' || id, password_hash = NULL WHERE id = ? AND removed_at IS NULL").run(Date.now(), id).changes > 0;
  }

  setPassword(id: string, passwordHash: string): void {
    this.q('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, id);
  }
}
