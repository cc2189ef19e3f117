// PKI helpers both programs use: fingerprints, SPIFFE ids, PEM splitting, CSR creation, chain checks.
// @peculiar/x509 needs reflect-metadata imported first and a WebCrypto provider (docs/INTERNALS.md).
import 'reflect-metadata';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type { CryptoKey, CryptoKeyPair };
export { x509 };

export const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** SHA-256 of a certificate's DER, as `AB:CD:…` (what `openssl x509 -fingerprint -sha256` prints). */
export function fingerprint(certPem: string): string {
  const der = new X509Certificate(certPem).raw;
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/.{2}/g)!.join(':');
}

/** Accepts a fingerprint with or without colons, any case; returns the canonical form or null. */
export function normalizeFingerprint(input: string): string | null {
  const hex = input.trim().replace(/^sha256[:=]?/i, '').replace(/[:\s]/g, '').toUpperCase();
  return /^[0-9A-F]{64}$/.test(hex) ? hex.match(/.{2}/g)!.join(':') : null;
}

/** Splits a PEM bundle into its certificates (PEM each). */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((s) => s + '\n') ?? [];
}

export type SpiffeId =
  | { kind: 'device'; trustDomain: string; userId: string; serial: string }
  | { kind: 'user'; trustDomain: string; userId: string };

export function deviceSpiffeId(trustDomain: string, userId: string, serial: string): string {
  return `spiffe://${trustDomain}/user/${userId}/device/${serial}`;
}
export function userSpiffeId(trustDomain: string, userId: string): string {
  return `spiffe://${trustDomain}/user/${userId}`;
}

const SPIFFE_RE = /^spiffe:\/\/([a-z0-9.-]{1,255})\/user\/([0-9]{1,18})(?:\/device\/([A-Za-z0-9_-]{1,64}))?$/;

export function parseSpiffeId(uri: string): SpiffeId | null {
  const m = SPIFFE_RE.exec(uri);
  if (!m) return null;
  return m[3] !== undefined
    ? { kind: 'device', trustDomain: m[1]!, userId: m[2]!, serial: m[3] }
    : { kind: 'user', trustDomain: m[1]!, userId: m[2]! };
}

export interface KeyPairPem { privateKeyPem: string; publicKeyPem: string; keys: CryptoKeyPair }

export async function generateKeyPair(): Promise<KeyPairPem> {
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as CryptoKeyPair;
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  return {
    keys,
    privateKeyPem: toPem(pkcs8, 'PRIVATE KEY'),
    publicKeyPem: toPem(spki, 'PUBLIC KEY'),
  };
}

export function toPem(der: Buffer | ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der as ArrayBuffer).toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** A PKCS#10 request for CN=<serial>, signed by the key made on this machine. */
export async function createCsr(serial: string, keys: CryptoKeyPair): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${serial}`,
    keys,
    signingAlgorithm: SIGN_ALG,
  });
  return csr.toString('pem');
}

/**
 * Does `chain` (leaf first) lead, link by link, to a self-signed root with this fingerprint?
 * Returns the root PEM, or null. Dates are checked too; the hostname is checked by TLS afterwards.
 */
export function chainLeadsToRoot(chainPems: string[], wantFingerprint: string, now = new Date()): string | null {
  const certs = chainPems.map((p) => new X509Certificate(p));
  if (certs.length === 0) return null;
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i]!;
    if (new Date(c.validFrom) > now || new Date(c.validTo) < now) return null;
    const issuer = i + 1 < certs.length ? certs[i + 1]! : c;
    if (!c.checkIssued(issuer) || !c.verify(issuer.publicKey)) return null;
  }
  const root = certs[certs.length - 1]!;
  if (!root.checkIssued(root)) return null;
  return fingerprint(root.toString()) === wantFingerprint ? root.toString() : null;
}
