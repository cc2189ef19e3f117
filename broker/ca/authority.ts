// The hub's certificate authority at work: device certificates signed from CSRs, user certificates,
// the server certificate — every one an end-entity certificate with the SANs the hub chose — and the
// record of each in the store (issuedRecord: one place for every caller).
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import {
  EC_ALG, deviceSpiffeId, fingerprint, generateKeyPair, splitPem, userSpiffeId, x509,
  type CryptoKey,
} from '../../shared/pki.js';
import { type CertKind, REVOKE_REASON, type NewCert, type RevokedCert } from '../store/store.js';
import { CaError, SKEW, caPaths, randomSerialHex, readKey, signingParams } from './files.js';

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

  /** Where the CRL is published (GET /api/v1/ca/crl): every certificate issued from now on names it. */
  private crlUrl: string | null = null;
  setCrlUrl(url: string): void { this.crlUrl = url; }

  /**
   * A CRL of the issuing CA listing `revoked`, valid from now until `nextUpdate`, numbered `number`
   * (a CRL number only ever grows). DER, and PEM for Mosquitto's crlfile.
   */
  async crl(revoked: RevokedCert[], number: number, nextUpdate: Date): Promise<{ der: Buffer; pem: string }> {
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.issuing.subject,
      thisUpdate: new Date(),
      nextUpdate,
      entries: revoked.map((r) => ({ serialNumber: r.serial, revocationDate: new Date(r.revokedAt), reason: crlReason(r.reason) })),
      extensions: [await x509.AuthorityKeyIdentifierExtension.create(this.issuing), crlNumber(number)],
      signingAlgorithm: this.signAlg as never,
      signingKey: this.issuingKey,
    });
    const der = Buffer.from(crl.rawData);
    // OpenSSL (and so Mosquitto's crlfile) reads only the label "X509 CRL"; the library writes "CRL".
    const body = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
    return { der, pem: `-----BEGIN X509 CRL-----\n${body}\n-----END X509 CRL-----\n` };
  }

  static async load(dataDir: string, trustDomain: string, passphrase?: string): Promise<CertificateAuthority> {
    const p = caPaths(dataDir);
    const key = readKey(p.issuingKey, passphrase);
    const { importAlg, signAlg } = signingParams(key);
    const issuingKey = await webcrypto.subtle.importKey('pkcs8', key.export({ format: 'der', type: 'pkcs8' }), importAlg, false, ['sign']);
    const issuingPem = readFileSync(p.issuingCert, 'utf8');
    const issuing = splitPem(issuingPem)[0];
    if (!issuing) throw new CaError(`${p.issuingCert} holds no PEM certificate`);
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
        ...(this.crlUrl ? [new x509.CRLDistributionPointsExtension([this.crlUrl])] : []),
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

/** RFC 5280's reason for why the hub revoked a certificate; none for an operator's or a key's revocation. */
function crlReason(reason: string | null): x509.X509CrlReason | undefined {
  if (reason === REVOKE_REASON.renewed || reason === REVOKE_REASON.superseded || reason === REVOKE_REASON.replaced) return x509.X509CrlReason.superseded;
  if (reason === REVOKE_REASON.disconnected || reason === REVOKE_REASON.removed) return x509.X509CrlReason.cessationOfOperation;
  return undefined;
}

/** The cRLNumber extension (2.5.29.20): a DER INTEGER. */
function crlNumber(n: number): x509.Extension {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  const body = Buffer.from(hex, 'hex');
  return new x509.Extension('2.5.29.20', false, Buffer.concat([Buffer.from([0x02, body.length]), body]));
}

/** The store's record of a certificate just issued, for whom and through which API key. */
export function issuedRecord(cert: IssuedCert, owner: { kind: CertKind; userId: string; deviceSerial?: string | null; apiKeyId?: string | null }): NewCert {
  return {
    serial: cert.serial, kind: owner.kind, userId: owner.userId, deviceSerial: owner.deviceSerial ?? null, apiKeyId: owner.apiKeyId ?? null,
    notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime(), pem: cert.pem,
  };
}
