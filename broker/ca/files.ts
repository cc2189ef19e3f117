// The CA's files in the data directory, reading its keys, and creating it on first start:
//
//   ca/root.crt  ca/root.key (absent when an intermediate was imported)  ca/issuing.key
//   ca/issuing.crt (the issuing CA, then any CAs between it and the root when an intermediate was imported)
//   tls/server.crt (leaf, issuing, root)  tls/server.key
//
// Keys are written 0600. CA keys may be encrypted at rest with a passphrase (lock.ts).
import { createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../shared/errors.js';
import { ensureDir, writeFileAtomic } from '../../shared/fs.js';
import { EC_ALG, SIGN_ALG, generateKeyPair, x509 } from '../../shared/pki.js';

export const DAY = 86_400_000;
/** Clock skew allowance: certificates are valid from a few minutes in the past. */
export const SKEW = 5 * 60_000;

/** A problem with the CA itself (its files, keys or an imported certificate): bad configuration, exit 78. */
export class CaError extends ConfigError {}

export interface CaPaths {
  rootCert: string; rootKey: string; issuingCert: string; issuingKey: string; serverCert: string; serverKey: string; crl: string;
}

export function caPaths(dataDir: string): CaPaths {
  return {
    rootCert: join(dataDir, 'ca', 'root.crt'),
    rootKey: join(dataDir, 'ca', 'root.key'),
    issuingCert: join(dataDir, 'ca', 'issuing.crt'),
    issuingKey: join(dataDir, 'ca', 'issuing.key'),
    serverCert: join(dataDir, 'tls', 'server.crt'),
    serverKey: join(dataDir, 'tls', 'server.key'),
    crl: join(dataDir, 'ca', 'crl.pem'),
  };
}

export function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40; // positive and of fixed length, so every tool prints it the same way
  return b.toString('hex');
}

export const isEncryptedPem = (pem: string) => pem.includes('ENCRYPTED PRIVATE KEY');

/** How to sign with a CA key of this type (generated keys are P-256; imported ones may differ). */
export function signingParams(key: KeyObject): { importAlg: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams; signAlg: object } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { importAlg: EC_ALG, signAlg: SIGN_ALG };
    if (curve === 'secp384r1') return { importAlg: { name: 'ECDSA', namedCurve: 'P-384' }, signAlg: { name: 'ECDSA', hash: 'SHA-384' } };
    throw new CaError(`unsupported CA key curve ${curve}: use P-256, P-384 or RSA`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    return { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, signAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } };
  }
  throw new CaError(`unsupported CA key type ${key.asymmetricKeyType}: use ECDSA or RSA`);
}

export function readKey(file: string, passphrase: string | undefined): KeyObject {
  const pem = readFileSync(file, 'utf8');
  if (isEncryptedPem(pem) && !passphrase) {
    throw new CaError(`the CA key ${file} is locked (encrypted)`,
      'give its passphrase in PI_HUB_CA_PASSPHRASE, in a file named by PI_HUB_CA_PASSPHRASE_FILE, or as the systemd credential "ca-passphrase"');
  }
  try {
    return createPrivateKey({ key: pem, passphrase });
  } catch {
    throw new CaError(`cannot read the CA key ${file}: wrong passphrase or not a private key`);
  }
}

/** Creates a root and an issuing CA (ECDSA P-256) unless they exist. Returns true if it made them. */
export async function ensureCa(dataDir: string): Promise<boolean> {
  const p = caPaths(dataDir);
  if (existsSync(p.issuingCert) && existsSync(p.issuingKey) && existsSync(p.rootCert)) return false;
  ensureDir(join(dataDir, 'ca'), 0o700);
  const now = Date.now();
  const rootKeys = await generateKeyPair();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: 'CN=pifleet root CA',
    notBefore: new Date(now - SKEW),
    notAfter: new Date(now + 20 * 365 * DAY),
    signingAlgorithm: SIGN_ALG,
    keys: rootKeys.keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.keys.publicKey),
    ],
  });
  const { certPem, keyPem } = await makeIssuing(root, rootKeys.keys.privateKey, SIGN_ALG);
  writeFileAtomic(p.rootKey, rootKeys.privateKeyPem, 0o600);
  writeFileAtomic(p.rootCert, root.toString('pem') + '\n', 0o644);
  writeFileAtomic(p.issuingKey, keyPem, 0o600);
  writeFileAtomic(p.issuingCert, certPem, 0o644);
  return true;
}

export async function makeIssuing(root: x509.X509Certificate, rootKey: webcrypto.CryptoKey, signAlg: object): Promise<{ certPem: string; keyPem: string }> {
  const now = Date.now();
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: 'CN=pifleet issuing CA',
    issuer: root.subject,
    notBefore: new Date(now - SKEW),
    notAfter: new Date(Math.min(now + 10 * 365 * DAY, root.notAfter.getTime())),
    signingAlgorithm: signAlg as never,
    publicKey: keys.keys.publicKey,
    signingKey: rootKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(root),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: keys.privateKeyPem };
}

export function caIsLocked(dataDir: string): boolean {
  const p = caPaths(dataDir);
  return existsSync(p.issuingKey) && isEncryptedPem(readFileSync(p.issuingKey, 'utf8'));
}
