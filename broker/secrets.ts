// Passwords and API-key secrets are stored only as argon2id hashes (docs/ARCHITECTURE.md).
// Each argon2 run takes tens of MiB and ~50–100 ms, so runs are limited to two at a time: a burst of
// logins or enrollments queues instead of exhausting memory.
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

/** Passwords: argon2id with the library's defaults (64 MiB, t=3, p=4). */
const PASSWORD_OPTS = { type: argon2.argon2id, memoryCost: 65536, timeCost: 3, parallelism: 4 } as const;
/** API-key secrets are 256 random bits, not guessable words: OWASP's minimum argon2id profile suffices. */
const SECRET_OPTS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

let running = 0;
const waiting: Array<() => void> = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export const hashPassword = (pw: string) => limited(() => argon2.hash(pw, PASSWORD_OPTS));
export const hashSecret = (secret: string) => limited(() => argon2.hash(secret, SECRET_OPTS));

export async function verifyHash(hash: string, plain: string): Promise<boolean> {
  try {
    return await limited(() => argon2.verify(hash, plain));
  } catch {
    return false; // a malformed stored hash is a refusal, not a crash
  }
}

// An unknown key id answered at once while a known one cost an argon2 verification (~29 ms against
// ~5 ms), which told a caller which key ids exist (issue 7). So a secret or password with nothing to
// check it against (an unknown key id, a user name that does not exist) is verified anyway, against a
// stand-in hash of a random one made with the same parameters, and refused after the same work.
function standIn(make: () => Promise<string>): () => Promise<string> {
  let hash: Promise<string> | undefined;
  return () => (hash ??= make());
}
const secretStandIn = standIn(() => hashSecret(randomBytes(32).toString('hex')));
const passwordStandIn = standIn(() => hashPassword(randomBytes(16).toString('hex')));

async function verifyOrStandIn(hash: string | null, plain: string, stand: () => Promise<string>): Promise<boolean> {
  if (hash !== null) return verifyHash(hash, plain);
  await verifyHash(await stand(), plain);
  return false;
}

/** Whether `secret` matches the stored hash; with no hash (an unknown key id), false after the same work. */
export const verifyApiKeySecret = (hash: string | null, secret: string) => verifyOrStandIn(hash, secret, secretStandIn);
/** Whether `password` matches the stored hash; with none (no such user), false after the same work. */
export const verifyPassword = (hash: string | null, password: string) => verifyOrStandIn(hash, password, passwordStandIn);

/** Make the stand-in hashes now (at start-up) rather than at the first request that needs one. */
export const prepareApiKeyVerification = (): void => void secretStandIn();
export const preparePasswordVerification = (): void => void passwordStandIn();

export function newApiKey(): { id: string; secret: string; key: string } {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const id = Array.from(randomBytes(12), (b) => alphabet[b % 36]).join('');
  const secret = randomBytes(32).toString('hex');
  return { id, secret, key: `pk_${id}_${secret}` };
}
