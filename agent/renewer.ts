// Renews this Pi's certificate over mTLS (POST /api/v1/renew) at two thirds of its lifetime, and at
// start-up when that moment has passed. A new key pair each time; the old certificate stays valid at
// the hub until it expires, so the switch has no gap.
import { X509Certificate, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '../shared/log.js';
import { IssuedCertificateSchema } from '../shared/schemas.js';
import type { AgentPaths } from './config.js';
import { writeIdentity } from './identity-files.js';
import { apiMessage, hubRequest } from './hub-api.js';

const MAX_TIMER = 2 ** 31 - 1;

/** When to renew: at two thirds of [notBefore, notAfter]. */
export function renewAt(notBefore: number, notAfter: number): number {
  return notBefore + ((notAfter - notBefore) * 2) / 3;
}

export class CertRenewer {
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = true;

  constructor(
    private readonly hub: string,
    private readonly serial: string,
    private readonly paths: AgentPaths,
    private readonly log: Logger,
    private readonly onRenewed: () => Promise<void>,
    /** After the hub refused the certificate (revoked, expired): only a new `connect` helps, so ask rarely. */
    private readonly refusedRetryMs = 600_000,
  ) {}

  start(): void {
    this.stopped = false;
    this.plan();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private current(): X509Certificate {
    return new X509Certificate(readFileSync(this.paths.cert, 'utf8'));
  }

  private plan(): void {
    if (this.stopped) return;
    const cert = this.current();
    const at = renewAt(new Date(cert.validFrom).getTime(), new Date(cert.validTo).getTime());
    const wait = Math.max(0, at - Date.now());
    if (wait === 0) this.log.info('the certificate is due for renewal');
    this.arm(wait);
  }

  private arm(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.renew(), Math.min(ms, MAX_TIMER));
    this.timer.unref();
  }

  /** One renewal attempt; on failure, retries sooner than the certificate expires. */
  async renew(): Promise<boolean> {
    try {
      // Loaded here, not at start-up: the PKI library costs the daemon several MB it needs every 20 days.
      const { createCsr, generateKeyPair } = await import('../shared/pki.js');
      const kp = await generateKeyPair();
      const res = await hubRequest(this.hub, {
        method: 'POST', path: '/api/v1/renew',
        ca: readFileSync(this.paths.chain, 'utf8'), cert: readFileSync(this.paths.cert, 'utf8'), key: readFileSync(this.paths.key, 'utf8'),
        body: { csr: await createCsr(this.serial, kp.keys) },
      });
      if (res.status !== 201) throw Object.assign(new Error(`HTTP ${res.status}: ${apiMessage(res.body, 'refused')}`), { status: res.status });
      const issued = IssuedCertificateSchema.parse(res.body);
      const leaf = new X509Certificate(issued.certificate);
      const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ format: 'der', type: 'spki' }).toString('hex');
      if (spki(leaf.publicKey) !== spki(createPublicKey(kp.privateKeyPem)) || leaf.subject !== `CN=${this.serial}`) {
        throw new Error('the hub returned a certificate that is not for this key and serial');
      }
      writeIdentity(this.paths, kp.privateKeyPem, issued.certificate, issued.chain);
      this.failures = 0;
      this.log.info('certificate renewed', { serial: leaf.serialNumber.toLowerCase(), notAfter: new Date(leaf.validTo).toISOString() });
      await this.onRenewed();
      this.plan();
      return true;
    } catch (err) {
      this.failures++;
      const cert = this.current();
      const left = new Date(cert.validTo).getTime() - Date.now();
      const status = (err as { status?: number }).status;
      const refused = status === 401 || status === 403 || left <= 0;
      // Retry well before expiry: a tenth of what is left, between 1 s and 1 h, growing with failures.
      const retry = refused ? this.refusedRetryMs : Math.min(3_600_000, Math.max(1_000, (left / 10) * Math.min(this.failures, 5) / 5));
      const hint = refused ? ' (the hub no longer accepts this certificate: connect this Pi again)' : '';
      this.log.warn(`certificate renewal failed${hint}`, { error: (err as Error).message, retryInMs: Math.round(retry) });
      if (!this.stopped) this.arm(retry);
      return false;
    }
  }
}
