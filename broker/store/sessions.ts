// Browser sessions: a random token in an HttpOnly cookie, kept here as its SHA-256 only (a copy of the
// database logs nobody in), ending 7 days after its last use or 30 days after its start, whichever is
// first; a user's are listed and ended one by one, or all when the user is removed.
import { createHash, randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { type Db, statementCache } from './db.js';
import type { Session, SessionStore } from './store.js';

const DAY = 86_400_000;
export const SESSION_IDLE_MS = 7 * DAY;
export const SESSION_MAX_MS = 30 * DAY;
/** last_used_at is written at most this often (a page asks many times a minute). */
const TOUCH_EVERY_MS = 60_000;

interface Row {
  id: string; user_id: number; created_at: number; last_used_at: number; expires_at: number; ended_at: number | null;
  address: string | null; user_agent: string | null;
}
const toSession = (r: Row): Session => ({
  id: r.id, userId: String(r.user_id), createdAt: r.created_at, lastUsedAt: r.last_used_at,
  expiresAt: Math.min(r.expires_at, r.last_used_at + SESSION_IDLE_MS), endedAt: r.ended_at, address: r.address, userAgent: r.user_agent,
});
const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export class Sessions implements SessionStore {
  private readonly q: (sql: string) => Statement;

  constructor(db: Db, private readonly onEnd: () => void = () => {}) {
    this.q = statementCache(db);
  }

  create(userId: string, address: string | null, userAgent: string | null, now = Date.now()): { token: string; session: Session } {
    const token = randomBytes(32).toString('base64url');
    const id = randomBytes(12).toString('hex');
    this.q(`INSERT INTO sessions (id, token_hash, user_id, created_at, last_used_at, expires_at, address, user_agent)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(id, hash(token), userId, now, now, now + SESSION_MAX_MS, address, userAgent?.slice(0, 200) ?? null);
    return { token, session: this.byId(id)! };
  }

  byId(id: string): Session | null {
    const r = this.q('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
    return r ? toSession(r) : null;
  }

  /** The live session this token opens, its use recorded; null when unknown, ended or expired. */
  byToken(token: string, now = Date.now()): Session | null {
    const r = this.q('SELECT * FROM sessions WHERE token_hash = ?').get(hash(token)) as Row | undefined;
    if (!r) return null;
    const s = toSession(r);
    if (s.endedAt !== null || s.expiresAt <= now) return null;
    if (now - r.last_used_at > TOUCH_EVERY_MS) this.q('UPDATE sessions SET last_used_at = ? WHERE id = ?').run(now, r.id);
    return s;
  }

  list(userId: string, now = Date.now()): Session[] {
    return (this.q('SELECT * FROM sessions WHERE user_id = ? AND ended_at IS NULL ORDER BY created_at DESC').all(userId) as Row[])
      .map(toSession).filter((s) => s.expiresAt > now);
  }

  end(id: string, now = Date.now()): boolean {
    const ended = this.q('UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL').run(now, id).changes > 0;
    if (ended) this.onEnd();
    return ended;
  }

  endAllOf(userId: string, now = Date.now()): number {
    const n = this.q('UPDATE sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL').run(now, userId).changes;
    if (n > 0) this.onEnd();
    return n;
  }

  /** Which of these sessions are no longer live (ended or expired). */
  endedAmong(ids: string[], now = Date.now()): string[] {
    return ids.filter((id) => {
      const s = this.byId(id);
      return s === null || s.endedAt !== null || s.expiresAt <= now;
    });
  }
}
