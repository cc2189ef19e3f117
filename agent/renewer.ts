// Renews this Pi's certificate over mTLS (POST /api/v1/renew) at two thirds of its lifetime, and at
// start-up when that moment has passed. A new key pair each time; the old certificate stays valid at
// the hub until the new one is first used, so the switch has no gap. When the response is lost on the
// way (the hub issued a certificate this Pi never got), the files keep the old certificate and the
// retry, a few minutes later at most, renews from it again: the hub replaces the unused one.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '../shared/log.js';
import { ApiErrorSchema, IssuedCertificateSchema } from '../shared/schemas.js';
import type { AgentPaths } from './config.js';
import { certificateMatchesKey, writeIdentity } from './identity.js';
import { apiMessage, hubRequest } from './hub-api.js';

const MAX_TIMER = 2 ** 31 - 1;
/** A failed renewal that the hub did not refuse (the network, a lost response) is retried within this. */
export const RENEW_RETRY_MAX_MS = 300_000;

export interface RenewalFailure {
  /** The HTTP status, when the hub answered. */
  status?: number;
  /** The API error code, when the hub answered with one. */
  code?: string;
  /** What is left of the current certificate's lifetime. */
  leftMs: number;
  /** Failures in a row, this one included. */
  failures: number;
}

/**
 * What a failed renewal means. Refused: only a new `pi-agent connect` helps (revoked, expired, or
 * already renewed with the renewal in use elsewhere), so ask again only every `refusedRetryMs`.
 * Otherwise retry soon — a tenth of what is left, growing with failures, at least 1 s and at most
 * RENEW_RETRY_MAX_MS — so that a renewal that was due is not put off for hours by one network failure.
 */
export function renewalRetry(f: RenewalFailure, refusedRetryMs: number): { refused: boolean; hint: string; inMs: number } {
  if (f.status === 409 && f.code === 'already_renewed') {
    return { refused: true, hint: 'this certificate was already renewed and its successor is in use: connect this Pi again', inMs: refusedRetryMs };
  }
  if (f.status === 401 || f.status === 403 || f.leftMs <= 0) {
    return { refused: true, hint: 'the hub no longer accepts this certificate: connect this Pi again', inMs: refusedRetryMs };
  }
  return { refused: false, hint: '', inMs: Math.min(RENEW_RETRY_MAX_MS, Math.max(1_000, (f.leftMs / 10) * Math.min(f.failures, 5) / 5)) };
}

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
      if (res.status !== 201) {
        const code = ApiErrorSchema.safeParse(res.body).data?.error.code;
        throw Object.assign(new Error(`HTTP ${res.status}: ${apiMessage(res.body, 'refused')}`), { status: res.status, code });
      }
      const issued = IssuedCertificateSchema.parse(res.body);
      const leaf = new X509Certificate(issued.certificate);
      if (!certificateMatchesKey(leaf, kp.privateKeyPem) || leaf.subject !== `CN=${this.serial}`) {
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
      const { status, code } = err as { status?: number; code?: unknown };
      const next = renewalRetry({
        status, code: typeof code === 'string' ? code : undefined,
        leftMs: new Date(this.current().validTo).getTime() - Date.now(), failures: this.failures,
      }, this.refusedRetryMs);
      this.log.warn(`certificate renewal failed${next.refused ? ` (${next.hint})` : ''}`, { error: (err as Error).message, retryInMs: Math.round(next.inMs) });
      if (!this.stopped) this.arm(next.inMs);
      return false;
    }
  }
}
