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
// ~5 ms), which told a caller which key ids exist (issue 7): an unknown id's secret is verified too,
// against a hash of a random secret made with the same parameters as real ones.
let dummySecretHash: Promise<string> | undefined;
const dummyHash = () => (dummySecretHash ??= hashSecret(randomBytes(32).toString('hex')));

/** Makes the stand-in hash now (at start-up) rather than during the first request for an unknown key id. */
export function prepareApiKeyVerification(): void {
  void dummyHash();
}

/** Whether `secret` matches the stored hash; with no hash (an unknown key id), false after the same work. */
export async function verifyApiKeySecret(hash: string | null, secret: string): Promise<boolean> {
  if (hash !== null) return verifyHash(hash, secret);
  await verifyHash(await dummyHash(), secret);
  return false;
}

export function newApiKey(): { id: string; secret: string; key: string } {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const id = Array.from(randomBytes(12), (b) => alphabet[b % 36]).join('');
  const secret = randomBytes(32).toString('hex');
  return { id, secret, key: `pk_${id}_${secret}` };
}

// The same for passwords: a user name that does not exist costs the same argon2 work as a wrong password.
let dummyPasswordHash: Promise<string> | undefined;
const dummyPassword = () => (dummyPasswordHash ??= hashPassword(randomBytes(16).toString('hex')));

/** Makes the stand-in password hash now (at start-up) rather than at the first login of an unknown name. */
export function preparePasswordVerification(): void {
  void dummyPassword();
}

/** Whether `password` matches the stored hash; with none (no such user), false after the same work. */
export async function verifyPassword(hash: string | null, password: string): Promise<boolean> {
  if (hash !== null) return verifyHash(hash, password);
  await verifyHash(await dummyPassword(), password);
  return false;
}
