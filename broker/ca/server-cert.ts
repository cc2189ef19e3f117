// The hub's TLS server certificate (tls/), issued by its own CA and renewed at start when it no longer
// covers the configured names, comes from another issuing CA, or nears its expiry.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../../shared/fs.js';
import { splitPem } from '../../shared/pki.js';
import type { CertificateAuthority } from './authority.js';
import { DAY, caPaths } from './files.js';

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
