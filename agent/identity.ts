// This Pi's identity and the daemon's state on disk, read and written only here: key (0600),
// certificate and CA chain (written so that a crash never leaves a key in use with a certificate it
// does not belong to), and status.json, what the daemon tells `pi-agent status`. No PKI library here:
// the daemon reads these files on every start, and @peculiar/x509 is loaded only when a certificate is
// made.
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import * as z from 'zod';
import { ConfigError } from '../shared/errors.js';
import { writeFileAtomic } from '../shared/fs.js';
import type { Logger } from '../shared/log.js';
import type { AgentPaths } from './config.js';
import type { Credentials } from './mqtt-link.js';

/**
 * Stores a key and its certificate (and the chain) so that a crash never leaves a key in use with a
 * certificate it does not belong to: both are written completely as *.next files first, then renamed
 * key first, certificate last; `completeIdentityWrite` finishes an interrupted pair at start-up.
 */
export function writeIdentity(paths: AgentPaths, keyPem: string, certPem: string, chainPem: string): void {
  writeFileAtomic(paths.chain, chainPem, 0o644);
  writeFileAtomic(`${paths.key}.next`, keyPem, 0o600);
  writeFileAtomic(`${paths.cert}.next`, certPem, 0o644);
  completeIdentityWrite(paths);
}

/** Finishes the renames of a pair written by writeIdentity; true if there was one to finish. */
export function completeIdentityWrite(paths: AgentPaths): boolean {
  if (!existsSync(`${paths.cert}.next`)) return false;
  if (existsSync(`${paths.key}.next`)) renameSync(`${paths.key}.next`, paths.key);
  renameSync(`${paths.cert}.next`, paths.cert);
  return true;
}

const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }).toString('hex');

/** Whether the certificate (PEM or parsed) is for the public half of this private key (PEM). */
export function certificateMatchesKey(cert: string | X509Certificate, keyPem: string): boolean {
  const x509 = typeof cert === 'string' ? new X509Certificate(cert) : cert;
  return spki(x509.publicKey) === spki(createPublicKey(createPrivateKey(keyPem)));
}

/**
 * Reads key, certificate and chain (first finishing a write a crash interrupted), and checks that the
 * key belongs to the certificate; anything missing or mismatched is a ConfigError (exit 78).
 */
export function readCredentials(paths: AgentPaths, log?: Logger): Credentials {
  if (completeIdentityWrite(paths)) log?.warn('finished storing a certificate interrupted by a crash', { file: paths.cert });
  for (const f of [paths.key, paths.cert, paths.chain]) {
    if (!existsSync(f)) throw new ConfigError(`${f} is missing: this Pi is not fully connected`, 'run: sudo pi-agent connect … --force');
  }
  const creds = { key: readFileSync(paths.key, 'utf8'), cert: readFileSync(paths.cert, 'utf8'), ca: readFileSync(paths.chain, 'utf8') };
  if (!certificateMatchesKey(creds.cert, creds.key)) throw new ConfigError(`${paths.key} does not belong to ${paths.cert}`, 'run: sudo pi-agent connect … --force');
  return creds;
}

// ---- status.json ---------------------------------------------------------------------------------

/** What the daemon writes to AgentPaths.status for `pi-agent status`. Not strict: a newer daemon may add fields. */
export const DaemonStateSchema = z.object({
  pid: z.number().int().positive(),
  connected: z.boolean(),
  /** ms since the epoch: when `connected` last changed. */
  since: z.number().int().nonnegative(),
  hub: z.string(),
  serial: z.string(),
});
export type DaemonState = z.infer<typeof DaemonStateSchema>;

/** Informational only: a state that cannot be written never stops the daemon. */
export function writeDaemonState(paths: AgentPaths, s: DaemonState): void {
  const { pid, connected, since, hub, serial } = s;
  try { writeFileAtomic(paths.status, JSON.stringify({ pid, connected, since, hub, serial }), 0o644); } catch { /* informational */ }
}

/** The state the daemon last wrote; null when there is none, or none that can be read (never a crash). */
export function readDaemonState(paths: AgentPaths): DaemonState | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(paths.status, 'utf8'));
  } catch {
    return null;
  }
  const r = DaemonStateSchema.safeParse(raw);
  return r.success ? r.data : null;
}
