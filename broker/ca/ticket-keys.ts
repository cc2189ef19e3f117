// The keys the hub encrypts TLS session tickets with (tls/ticket-keys, 48 bytes, 0600). Node makes
// new ones at every start by default, so after a restart every returning Pi paid a full handshake —
// a certificate signature and two verifications each, all at once in a reconnect storm. Kept on disk,
// a ticket from before the restart resumes the session (TLS 1.3 PSK with a fresh ECDHE, so forward
// secrecy of the traffic stays). Replaced when older than TICKET_KEYS_MAX_AGE_MS: a stolen key file
// then opens at most that long a window of tickets. docs/ARCHITECTURE.md, "Reconnect storms".
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/fs.js';

export const TICKET_KEYS_BYTES = 48;
export const TICKET_KEYS_MAX_AGE_MS = 7 * 86_400_000;

export function ticketKeysPath(dataDir: string): string {
  return join(dataDir, 'tls', 'ticket-keys');
}

/** The ticket keys in force: the stored ones, or new ones (written) when absent, malformed or too old. */
export function loadTicketKeys(dataDir: string, now = Date.now()): Buffer {
  const file = ticketKeysPath(dataDir);
  try {
    const age = now - statSync(file).mtimeMs;
    const keys = readFileSync(file);
    if (keys.length === TICKET_KEYS_BYTES && age >= 0 && age < TICKET_KEYS_MAX_AGE_MS) return keys;
  } catch { /* none yet */ }
  const keys = randomBytes(TICKET_KEYS_BYTES);
  writeFileAtomic(file, keys, 0o600);
  return keys;
}
