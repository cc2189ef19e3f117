// The hub's certificate authority: a root and an issuing CA (ECDSA P-256), the server certificate,
// device certificates signed from CSRs, and user certificates. Files in <data-dir>/ca and /tls:
//
//   ca/root.crt  ca/root.key (absent when an intermediate was imported)  ca/issuing.key
//   ca/issuing.crt (the issuing CA, then any CAs between it and the root when an intermediate was imported)
//   tls/server.crt (leaf, issuing, root)  tls/server.key
//
// Keys are written 0600. CA keys may be encrypted at rest with a passphrase (`pi-hub ca lock`, scrypt).
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ConfigError } from '../shared/errors.js';
import { ensureDir, writeFileAtomic } from '../shared/fs.js';
import { encryptPrivateKey, keyDerivationOf } from './pkcs8-scrypt.js';
import {
  EC_ALG, SIGN_ALG, deviceSpiffeId, fingerprint, generateKeyPair, splitPem, userSpiffeId, x509,
  type CryptoKey,
} from '../shared/pki.js';

const DAY = 86_400_000;
/** Clock skew allowance: certificates are valid from a few minutes in the past. */
const SKEW = 5 * 60_000;

export interface CaPaths {
  rootCert: string; rootKey: string; issuingCert: string; issuingKey: string; serverCert: string; serverKey: string;
}

export function caPaths(dataDir: string): CaPaths {
  return {
    rootCert: join(dataDir, 'ca', 'root.crt'),
    rootKey: join(dataDir, 'ca', 'root.key'),
    issuingCert: join(dataDir, 'ca', 'issuing.crt'),
    issuingKey: join(dataDir, 'ca', 'issuing.key'),
    serverCert: join(dataDir, 'tls', 'server.crt'),
    serverKey: join(dataDir, 'tls', 'server.key'),
  };
}


export function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40; // positive and of fixed length, so every tool prints it the same way
  return b.toString('hex');
}

export const isEncryptedPem = (pem: string) => pem.includes('ENCRYPTED PRIVATE KEY');

/** How to sign with a CA key of this type (generated keys are P-256; imported ones may differ). */
function signingParams(key: KeyObject): { importAlg: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams; signAlg: object } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { importAlg: EC_ALG, signAlg: SIGN_ALG };
    if (curve === 'secp384r1') return { importAlg: { name: 'ECDSA', namedCurve: 'P-384' }, signAlg: { name: 'ECDSA', hash: 'SHA-384' } };
    throw new ConfigError(`unsupported CA key curve ${curve}: use P-256, P-384 or RSA`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    return { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, signAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } };
  }
  throw new ConfigError(`unsupported CA key type ${key.asymmetricKeyType}: use ECDSA or RSA`);
}

function readKey(file: string, passphrase: string | undefined): KeyObject {
  const pem = readFileSync(file, 'utf8');
  if (isEncryptedPem(pem) && !passphrase) {
    throw new ConfigError(`the CA key ${file} is locked (encrypted)`,
      'give its passphrase in PI_HUB_CA_PASSPHRASE, in a file named by PI_HUB_CA_PASSPHRASE_FILE, or as the systemd credential "ca-passphrase"');
  }
  try {
    return createPrivateKey({ key: pem, passphrase });
  } catch {
    throw new ConfigError(`cannot read the CA key ${file}: wrong passphrase or not a private key`);
  }
}

export interface IssuedCert { pem: string; serial: string; notBefore: Date; notAfter: Date }

export class CertificateAuthority {
  private constructor(
    readonly rootPem: string,
    readonly issuingPem: string,
    private readonly issuing: x509.X509Certificate,
    private readonly issuingKey: CryptoKey,
    private readonly signAlg: object,
    readonly trustDomain: string,
  ) {}

  /** The issuing CA (with any CAs above it) then the root, PEM: what clients need to verify the hub, and what the hub trusts. */
  get chainPem(): string { return this.issuingPem + this.rootPem; }
  get fingerprint(): string { return fingerprint(this.rootPem); }

  static async load(dataDir: string, trustDomain: string, passphrase?: string): Promise<CertificateAuthority> {
    const p = caPaths(dataDir);
    const key = readKey(p.issuingKey, passphrase);
    const { importAlg, signAlg } = signingParams(key);
    const issuingKey = await webcrypto.subtle.importKey('pkcs8', key.export({ format: 'der', type: 'pkcs8' }), importAlg, false, ['sign']);
    const issuingPem = readFileSync(p.issuingCert, 'utf8');
    const issuing = splitPem(issuingPem)[0];
    if (!issuing) throw new ConfigError(`${p.issuingCert} holds no PEM certificate`);
    return new CertificateAuthority(readFileSync(p.rootCert, 'utf8'), issuingPem, new x509.X509Certificate(issuing), issuingKey, signAlg, trustDomain);
  }

  private async sign(opts: {
    subject: string; publicKey: webcrypto.CryptoKey; lifetimeMs: number; extensions: x509.Extension[];
  }): Promise<IssuedCert> {
    const serial = randomSerialHex();
    const now = Date.now();
    // Backdated for clock skew, but never by more than a tenth of the lifetime: the agent renews at two
    // thirds of [notBefore, notAfter], which a large backdate would move into the past.
    const notBefore = new Date(now - Math.min(SKEW, opts.lifetimeMs / 10));
    const notAfter = new Date(Math.min(now + opts.lifetimeMs, this.issuing.notAfter.getTime()));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: opts.subject,
      issuer: this.issuing.subject,
      notBefore,
      notAfter,
      signingAlgorithm: this.signAlg as never,
      publicKey: opts.publicKey,
      signingKey: this.issuingKey,
      extensions: [
        ...opts.extensions,
        await x509.AuthorityKeyIdentifierExtension.create(this.issuing),
        await x509.SubjectKeyIdentifierExtension.create(opts.publicKey),
      ],
    });
    return { pem: cert.toString('pem') + '\n', serial, notBefore, notAfter };
  }

  /**
   * Signs a device CSR. The CSR must be signed by its own key, name exactly CN=<serial>, carry an
   * ECDSA P-256 key, and ask for no extensions: the hub alone chooses the SAN (its SPIFFE id).
   */
  async issueDevice(csrPem: string, serial: string, userId: string, lifetimeMs: number): Promise<IssuedCert> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch {
      throw new CsrError('the CSR is not a PEM PKCS#10 certificate request');
    }
    if (!(await csr.verify())) throw new CsrError('the CSR signature does not verify');
    if (csr.subject !== `CN=${serial}`) throw new CsrError(`the CSR subject must be exactly CN=${serial}`);
    if (csr.extensions.length > 0) throw new CsrError('the CSR must not request extensions (no SANs): the hub chooses them');
    const alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
    if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') throw new CsrError('the CSR key must be ECDSA P-256');
    const publicKey = await csr.publicKey.export(EC_ALG, ['verify']);
    return this.sign({
      subject: `CN=${serial}`, publicKey, lifetimeMs,
      extensions: leafExtensions(x509.ExtendedKeyUsage.clientAuth, [{ type: 'url', value: deviceSpiffeId(this.trustDomain, userId, serial) }]),
    });
  }

  /** A user certificate and its key, made here (for a browser, Node-RED or mosquitto clients). */
  async issueUser(userId: string, userName: string, lifetimeMs: number): Promise<IssuedCert & { keyPem: string }> {
    const kp = await generateKeyPair();
    const cert = await this.sign({
      subject: `CN=${userName}`, publicKey: kp.keys.publicKey, lifetimeMs,
      extensions: leafExtensions(x509.ExtendedKeyUsage.clientAuth, [{ type: 'url', value: userSpiffeId(this.trustDomain, userId) }]),
    });
    return { ...cert, keyPem: kp.privateKeyPem };
  }

  async issueServer(names: string[], lifetimeMs: number): Promise<IssuedCert & { keyPem: string }> {
    const kp = await generateKeyPair();
    const cert = await this.sign({
      subject: `CN=${names[0] ?? 'pi-hub'}`, publicKey: kp.keys.publicKey, lifetimeMs,
      extensions: leafExtensions(x509.ExtendedKeyUsage.serverAuth, names.map((n) => (isIP(n) ? { type: 'ip', value: n } : { type: 'dns', value: n }))),
    });
    return { ...cert, keyPem: kp.privateKeyPem };
  }
}

export class CsrError extends Error {}

/** An end-entity certificate: not a CA, signatures only, one purpose, the SANs the hub chose. */
function leafExtensions(purpose: string, sans: x509.JsonGeneralNames): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([purpose]),
    new x509.SubjectAlternativeNameExtension(sans),
  ];
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

async function makeIssuing(root: x509.X509Certificate, rootKey: webcrypto.CryptoKey, signAlg: object): Promise<{ certPem: string; keyPem: string }> {
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

/**
 * Makes sure tls/server.crt is signed by the current issuing CA, covers `names` and is not close to
 * expiry; issues a new one otherwise. Returns true if it issued one.
 */
export async function ensureServerCert(dataDir: string, ca: CertificateAuthority, names: string[]): Promise<boolean> {
  const p = caPaths(dataDir);
  if (existsSync(p.serverCert) && existsSync(p.serverKey)) {
    try {
      const leaf = new X509Certificate(readFileSync(p.serverCert, 'utf8'));
      const issuing = new X509Certificate(splitPem(ca.issuingPem)[0]!);
      const sans = new Set((leaf.subjectAltName ?? '').split(/,\s*/).map((s) => canonicalName(s.replace(/^(DNS|IP Address):/, ''))));
      const fresh = new Date(leaf.validTo).getTime() - Date.now() > 30 * DAY;
      if (leaf.checkIssued(issuing) && leaf.verify(issuing.publicKey) && fresh && names.every((n) => sans.has(canonicalName(n)))) return false;
    } catch {
      // unreadable: issue a new one below
    }
  }
  ensureDir(join(dataDir, 'tls'), 0o700);
  const cert = await ca.issueServer(names, 397 * DAY);
  writeFileAtomic(p.serverKey, cert.keyPem, 0o600);
  writeFileAtomic(p.serverCert, cert.pem + ca.chainPem, 0o644);
  return true;
}

/** Host names compare case-insensitively; IPv6 addresses in Node's uncompressed form (`0:0:…:1`). */
function canonicalName(name: string): string {
  if (isIP(name) !== 6) return name.toLowerCase();
  const [head, tail] = name.toLowerCase().split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}

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

export function caIsLocked(dataDir: string): boolean {
  const p = caPaths(dataDir);
  return existsSync(p.issuingKey) && isEncryptedPem(readFileSync(p.issuingKey, 'utf8'));
}

/**
 * Adopts an existing CA (openssl, step-ca). `certPem` is the CA certificate, optionally followed by
 * its chain up to a self-signed root; `keyPem` is its key. A self-signed root gets a fresh issuing CA
 * under it; an intermediate becomes the issuing CA itself.
 */
export async function importCa(dataDir: string, certPem: string, keyPem: string, keyPassphrase?: string): Promise<{ kind: 'root' | 'intermediate'; fingerprint: string }> {
  const certs = splitPem(certPem);
  if (certs.length === 0) throw new ConfigError('--cert holds no PEM certificate');
  const ca = new X509Certificate(certs[0]!);
  if (!ca.ca) throw new ConfigError('--cert is not a CA certificate (basicConstraints CA:TRUE)');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPem, passphrase: keyPassphrase });
  } catch {
    throw new ConfigError('--key is not a readable private key (encrypted? set PI_HUB_CA_PASSPHRASE)');
  }
  const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }).toString('hex');
  if (spki(createPublicKey(key)) !== spki(ca.publicKey)) throw new ConfigError('--key does not belong to the first certificate in --cert');
  const { importAlg, signAlg } = signingParams(key);
  const p = caPaths(dataDir);
  ensureDir(join(dataDir, 'ca'), 0o700);
  const keyPkcs8 = key.export({ format: 'pem', type: 'pkcs8' }).toString();

  if (ca.checkIssued(ca)) {
    const cryptoKey = await webcrypto.subtle.importKey('pkcs8', key.export({ format: 'der', type: 'pkcs8' }), importAlg, false, ['sign']);
    const issuing = await makeIssuing(new x509.X509Certificate(certs[0]!), cryptoKey, signAlg);
    writeFileAtomic(p.rootKey, keyPkcs8, 0o600);
    writeFileAtomic(p.rootCert, ca.toString() + '\n', 0o644);
    writeFileAtomic(p.issuingKey, issuing.keyPem, 0o600);
    writeFileAtomic(p.issuingCert, issuing.certPem, 0o644);
    return { kind: 'root', fingerprint: fingerprint(certs[0]!) };
  }
  // An intermediate: its chain must reach a self-signed root so agents can pin the root.
  const chain = certs.map((c) => new X509Certificate(c));
  for (let i = 0; i < chain.length - 1; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) {
      throw new ConfigError(`--cert: certificate ${i + 1} is not issued by certificate ${i + 2}`);
    }
  }
  const root = chain[chain.length - 1]!;
  if (!root.checkIssued(root)) throw new ConfigError('--cert: add the chain up to the self-signed root after the CA certificate');
  writeFileAtomic(p.issuingKey, keyPkcs8, 0o600);
  // Every CA between the issuing one and the root stays with it: TLS peers need the whole chain.
  writeFileAtomic(p.issuingCert, certs.slice(0, -1).join(''), 0o644);
  writeFileAtomic(p.rootCert, root.toString() + '\n', 0o644);
  if (existsSync(p.rootKey)) renameSync(p.rootKey, `${p.rootKey}.replaced-${Date.now()}`);
  return { kind: 'intermediate', fingerprint: fingerprint(root.toString()) };
}
