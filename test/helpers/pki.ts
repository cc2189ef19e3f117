// Certificates the hub must refuse, made in the test: another CA's, expired ones signed with the hub's
// own issuing key, and records of them in the hub's database.
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '../../broker/store/sqlite-store.js';
import { EC_ALG, SIGN_ALG, generateKeyPair, x509 } from '../../shared/pki.js';
import { runProgram } from './process.js';

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

export interface LeafOptions {
  cn: string;
  /** The SAN URI of a device or user certificate; `sans` replaces it. */
  spiffe?: string;
  sans?: x509.JsonGeneralNames;
  /** Extended key usages (OIDs, e.g. `x509.ExtendedKeyUsage.serverAuth`); default clientAuth. */
  eku?: string[];
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * An end-entity certificate signed by `ca`, valid over [notBefore, notAfter]: by default a client
 * certificate (EKU clientAuth) with a SPIFFE id, as the hub issues them.
 */
export async function signLeaf(ca: Pem, o: LeafOptions): Promise<Leaf> {
  const kp = await generateKeyPair();
  const caCert = new x509.X509Certificate(ca.cert);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(ca.key).export({ format: 'der', type: 'pkcs8' }), EC_ALG, false, ['sign']);
  const serial = serialHex();
  const sans = o.sans ?? (o.spiffe ? [{ type: 'url' as const, value: o.spiffe }] : []);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial, subject: `CN=${o.cn}`, issuer: caCert.subject,
    notBefore: o.notBefore ?? new Date(Date.now() - 60_000), notAfter: o.notAfter ?? new Date(Date.now() + DAY),
    signingAlgorithm: SIGN_ALG, publicKey: kp.keys.publicKey, signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(o.eku ?? [x509.ExtendedKeyUsage.clientAuth]),
      ...(sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
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
  const store = SqliteStore.open(join(dataDir, 'hub.db'));
  try {
    store.certs.add({
      serial: leaf.serial, kind: o.kind, userId: o.userId, deviceSerial: o.deviceSerial ?? null, apiKeyId: null,
      notBefore: new Date(x.validFrom).getTime(), notAfter: new Date(x.validTo).getTime(), pem: leaf.cert,
    });
  } finally {
    store.close();
  }
}

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_int1]
basicConstraints = critical,CA:TRUE,pathlen:1
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_int0]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

export interface OpensslCa { dir: string; root: { cert: string; key: string }; intermediates: Array<{ cert: string; key: string }> }

/**
 * A CA made with the openssl command line, as an operator would: a root (EC P-256, or RSA) and
 * `intermediates` CAs under it, each signed by the one before. Returns file paths.
 */
export async function opensslCa(dir: string, o: { intermediates?: number; rsa?: boolean } = {}): Promise<OpensslCa> {
  const cnf = join(dir, 'openssl.cnf');
  writeFileSync(cnf, OPENSSL_CNF);
  const ossl = async (args: string[]) => {
    const r = await runProgram('openssl', args, { cwd: dir });
    if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const keyArgs = o.rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  const root = { cert: join(dir, 'root.crt'), key: join(dir, 'root.key') };
  await ossl(['req', '-x509', '-config', cnf, '-extensions', 'v3_root', ...keyArgs, '-nodes', '-keyout', root.key, '-out', root.cert, '-days', '3650', '-subj', '/CN=Operator Root CA']);
  const intermediates: Array<{ cert: string; key: string }> = [];
  const n = o.intermediates ?? 0;
  let parent = root;
  for (let i = 1; i <= n; i++) {
    const cur = { cert: join(dir, `int${i}.crt`), key: join(dir, `int${i}.key`) };
    const csr = join(dir, `int${i}.csr`);
    await ossl(['req', '-new', '-config', cnf, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', cur.key, '-out', csr, '-subj', `/CN=Operator Intermediate ${i}`]);
    await ossl(['x509', '-req', '-in', csr, '-CA', parent.cert, '-CAkey', parent.key, '-CAcreateserial', '-out', cur.cert, '-days', '1825', '-extfile', cnf, '-extensions', i === n ? 'v3_int0' : 'v3_int1']);
    intermediates.push(cur);
    parent = cur;
  }
  return { dir, root, intermediates };
}

/** `openssl x509 -fingerprint -sha256` of a PEM file, as `AB:CD:…`. */
export async function opensslFingerprint(file: string): Promise<string> {
  const r = await runProgram('openssl', ['x509', '-in', file, '-noout', '-fingerprint', '-sha256']);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim().replace(/^.*Fingerprint=/i, '');
}
