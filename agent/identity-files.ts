// This Pi's identity on disk: key (0600), certificate and CA chain, written so that a crash never
// leaves a key in use with a certificate it does not belong to. No PKI library here: the daemon reads
// these files on every start, and @peculiar/x509 is loaded only when a certificate is made.
import { existsSync, renameSync } from 'node:fs';
import { writeFileAtomic } from '../shared/fs.js';
import type { AgentPaths } from './config.js';

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

/** What the daemon writes to AgentPaths.status for `pi-agent status`. */
export interface DaemonState { pid: number; connected: boolean; since: number; hub: string; serial: string }
