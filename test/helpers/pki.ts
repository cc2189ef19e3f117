// Certificates the hub must refuse, made in the test: another CA's, expired ones signed with the hub's
// own issuing key, and records of them in the hub's database.
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../broker/store/store.js';
import { EC_ALG, SIGN_ALG, generateKeyPair, x509 } from '../../shared/pki.js';

export interface Pem { cert: string; key: string }
export interface Leaf extends Pem { serial: string }

const DAY = 86_400_000;

function serialHex(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x3f) | 0x40;
  return Buffer.from(b).toString('hex');
}

/** A self-signed CA (ECDSA P-256), unrelated to any hub. */
export async function foreignCa(name = 'CN=not the pifleet root'): Promise<Pem> {
  const kp = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialHex(), name, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 365 * DAY),
    signingAlgorithm: SIGN_ALG, keys: kp.keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(kp.keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: kp.privateKeyPem };
}

/** A client certificate (EKU clientAuth) with this SPIFFE id, signed by `ca`, valid over [notBefore, notAfter]. */
export async function signLeaf(ca: Pem, o: { cn: string; spiffe: string; notBefore?: Date; notAfter?: Date }): Promise<Leaf> {
  const kp = await generateKeyPair();
  const caCert = new x509.X509Certificate(ca.cert);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(ca.key).export({ format: 'der', type: 'pkcs8' }), EC_ALG, false, ['sign']);
  const serial = serialHex();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial, subject: `CN=${o.cn}`, issuer: caCert.subject,
    notBefore: o.notBefore ?? new Date(Date.now() - 60_000), notAfter: o.notAfter ?? new Date(Date.now() + DAY),
    signingAlgorithm: SIGN_ALG, publicKey: kp.keys.publicKey, signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: o.spiffe }]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: kp.privateKeyPem, serial };
}

/** The hub's issuing CA, read from its data directory (the key must not be locked). */
export function hubIssuingCa(dataDir: string): Pem {
  return { cert: readFileSync(join(dataDir, 'ca', 'issuing.crt'), 'utf8'), key: readFileSync(join(dataDir, 'ca', 'issuing.key'), 'utf8') };
}

/** Records a certificate in the hub's database as if the hub had issued it. */
export function recordCert(dataDir: string, leaf: Leaf, o: { kind: 'user' | 'device'; userId: string; deviceSerial?: string }): void {
  const x = new X509Certificate(leaf.cert);
  const store = Store.open(join(dataDir, 'hub.db'));
  try {
    store.certs.add({
      serial: leaf.serial, kind: o.kind, userId: o.userId, deviceSerial: o.deviceSerial ?? null, apiKeyId: null,
      notBefore: new Date(x.validFrom).getTime(), notAfter: new Date(x.validTo).getTime(), pem: leaf.cert,
    });
  } finally {
    store.close();
  }
}
