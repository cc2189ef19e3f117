// `pi-hub ca import`: adopting an existing CA (openssl, step-ca) instead of the generated one.
import { createPrivateKey, createPublicKey, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../../shared/fs.js';
import { fingerprint, splitPem, x509 } from '../../shared/pki.js';
import { CaError, caPaths, makeIssuing, signingParams } from './files.js';

/**
 * Adopts an existing CA (openssl, step-ca). `certPem` is the CA certificate, optionally followed by
 * its chain up to a self-signed root; `keyPem` is its key. A self-signed root gets a fresh issuing CA
 * under it; an intermediate becomes the issuing CA itself.
 */
export async function importCa(dataDir: string, certPem: string, keyPem: string, keyPassphrase?: string): Promise<{ kind: 'root' | 'intermediate'; fingerprint: string }> {
  const certs = splitPem(certPem);
  if (certs.length === 0) throw new CaError('the CA certificate to import holds no PEM certificate');
  const ca = new X509Certificate(certs[0]!);
  if (!ca.ca) throw new CaError('the certificate to import is not a CA certificate (basicConstraints CA:TRUE)');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPem, passphrase: keyPassphrase });
  } catch {
    throw new CaError('the CA key to import is not a readable private key (encrypted? give its passphrase in PI_HUB_CA_PASSPHRASE)');
  }
  const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }).toString('hex');
  if (spki(createPublicKey(key)) !== spki(ca.publicKey)) throw new CaError('the CA key does not belong to the CA certificate (the first one of the chain)');
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
      throw new CaError(`in the CA chain to import, certificate ${i + 1} is not issued by certificate ${i + 2}`);
    }
  }
  const root = chain[chain.length - 1]!;
  if (!root.checkIssued(root)) throw new CaError('the CA chain to import does not reach a self-signed root: add the chain up to the root after the CA certificate');
  writeFileAtomic(p.issuingKey, keyPkcs8, 0o600);
  // Every CA between the issuing one and the root stays with it: TLS peers need the whole chain.
  writeFileAtomic(p.issuingCert, certs.slice(0, -1).join(''), 0o644);
  writeFileAtomic(p.rootCert, root.toString() + '\n', 0o644);
  if (existsSync(p.rootKey)) renameSync(p.rootKey, `${p.rootKey}.replaced-${Date.now()}`);
  return { kind: 'intermediate', fingerprint: fingerprint(root.toString()) };
}
