// The agent's HTTPS client for pi-hub's /api/v1: the hub is verified against the pinned CA chain
// (never the system store), optionally with this Pi's certificate (mTLS), and every failure becomes one
// sentence a Pi owner can act on.
import https from 'node:https';
import { CliError } from '../shared/errors.js';
import { ApiErrorSchema } from '../shared/schemas.js';

export interface HubRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  bearer?: string;
  /** PEM trust anchors: the pinned root (and issuing CA). */
  ca: string;
  /** This Pi's certificate and key, for mTLS. */
  cert?: string;
  key?: string;
  timeoutMs?: number;
}

export interface HubResponse { status: number; body: unknown }

export function hubRequest(hub: string, r: HubRequest): Promise<HubResponse> {
  const url = new URL(r.path, hub);
  return new Promise((resolve, reject) => {
    const data = r.body === undefined ? undefined : JSON.stringify(r.body);
    const req = https.request(url, {
      method: r.method,
      ca: r.ca,
      cert: r.cert,
      key: r.key,
      minVersion: 'TLSv1.3',
      timeout: r.timeoutMs ?? 15_000,
      headers: {
        accept: 'application/json',
        ...(r.bearer ? { authorization: `Bearer ${r.bearer}` } : {}),
        ...(data ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)) } : {}),
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (text.length < 1_000_000) text += d; });
      res.on('end', () => {
        let body: unknown = text;
        try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => reject(networkError(hub, err as NodeJS.ErrnoException)));
    req.end(data);
  });
}

/** What went wrong on the way to the hub, in words. */
export function networkError(hub: string, err: NodeJS.ErrnoException): CliError {
  const where = `the hub at ${hub}`;
  switch (err.code) {
    case 'ECONNREFUSED': return new CliError(`cannot reach ${where}: connection refused (is pi-hub running, and is the port right?)`);
    case 'ENOTFOUND': case 'EAI_AGAIN': return new CliError(`cannot reach ${where}: unknown host name`);
    case 'ETIMEDOUT': case 'EHOSTUNREACH': case 'ENETUNREACH': return new CliError(`cannot reach ${where}: no answer (${err.code})`);
    case 'ERR_TLS_CERT_ALTNAME_INVALID': return new CliError(`${where} presents a certificate that does not cover this host name`, 1, 'use the name or address the hub was set up with (its serverNames), or add it to the hub\'s hub.json');
    case 'CERT_HAS_EXPIRED': return new CliError(`${where} presents an expired certificate`);
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE': case 'SELF_SIGNED_CERT_IN_CHAIN': case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return new CliError(`${where} does not chain to the pinned root CA`);
    default: return new CliError(`cannot reach ${where}: ${err.message}`);
  }
}

/** The `error.message` of an API error body, or a fallback. */
export function apiMessage(body: unknown, fallback: string): string {
  const r = ApiErrorSchema.safeParse(body);
  return r.success ? r.data.error.message : fallback;
}
