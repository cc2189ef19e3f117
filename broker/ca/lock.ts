// `pi-hub ca lock | unlock`: the CA keys encrypted at rest with a passphrase, or not.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../shared/fs.js';
import { caPaths, isEncryptedPem, readKey } from './files.js';
import { encryptPrivateKey, keyDerivationOf } from './pkcs8-scrypt.js';

export interface CaKeyChange { file: string; change: 'locked' | 'unlocked' | 're-encrypted' }

/**
 * Encrypts (lock, with scrypt: see pkcs8-scrypt.ts) or decrypts (unlock) the CA keys in place. A key
 * locked by an earlier version (PBKDF2 at 2,048 iterations) is re-encrypted with scrypt by lock, with
 * the same passphrase, which must decrypt it. Returns what changed.
 */
export function setCaLock(dataDir: string, lock: boolean, passphrase: string): CaKeyChange[] {
  const p = caPaths(dataDir);
  const changed: CaKeyChange[] = [];
  for (const file of [p.rootKey, p.issuingKey]) {
    if (!existsSync(file)) continue;
    const pem = readFileSync(file, 'utf8');
    const encrypted = isEncryptedPem(pem);
    const change = lock
      ? (!encrypted ? 'locked' : keyDerivationOf(pem)?.kdf !== 'scrypt' ? 're-encrypted' : null)
      : (encrypted ? 'unlocked' : null);
    if (change === null) continue;
    const key = readKey(file, passphrase);
    const out = lock ? encryptPrivateKey(key, passphrase) : key.export({ format: 'pem', type: 'pkcs8' }).toString();
    writeFileAtomic(file, out, 0o600);
    changed.push({ file, change });
  }
  return changed;
}
