// The dashboard's files, built by Vite into dist/dashboard: index.html at / (revalidated every time)
// and hashed assets under /assets/ (cached for a year: a new build has new names). Read once at start;
// only what the build put there is served, under the page's own CSP. Text files are also kept gzipped
// (compressed once, at start) and sent so to a browser that accepts it: the page is ~50 KB instead of
// ~130 KB on the wire.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../shared/log.js';
import { type Ctx, HttpError, type Reply, type Router } from './http.js';

/** dist/broker/api → dist/dashboard */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json', '.txt': 'text/plain; charset=utf-8',
};

/** No inline script or style, nothing from another origin; the page's MQTT goes to its own origin. */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  + "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const NOT_BUILT = '<!doctype html><meta charset="utf-8"><title>pifleet</title><p>The dashboard is not built: run <code>npm run build</code>.</p>';

function files(dir: string, prefix = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) for (const [k, v] of files(full, `${prefix}${name}/`)) out.set(k, v);
    else out.set(`${prefix}${name}`, readFileSync(full));
  }
  return out;
}

/** The gzipped form of each compressible file, where it is smaller. */
function gzipped(built: ReadonlyMap<string, Buffer>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [path, body] of built) {
    const type = TYPES[extname(path)] ?? '';
    if (!/^text\/|svg|json/.test(type)) continue;
    const gz = gzipSync(body, { level: 9 });
    if (gz.length < body.length) out.set(path, gz);
  }
  return out;
}

/** Whether the request accepts gzip (and does not refuse it with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';').map((x) => x.trim());
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.find((x) => x.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

export function dashboardRoutes(router: Router, log: Logger, dir = DASHBOARD_DIR): void {
  const built = files(dir);
  const gz = gzipped(built);
  if (!built.has('index.html')) log.warn('the dashboard is not built; / says so', { dir });
  const reply = (ctx: Ctx, path: string, cache: string): Reply => {
    const body = built.get(path);
    if (!body) throw new HttpError(404, 'not_found', `no ${path}`);
    const headers: Record<string, string> = { 'cache-control': cache, 'content-security-policy': PAGE_CSP };
    const small = gz.get(path);
    if (small) headers.vary = 'accept-encoding';
    if (small && acceptsGzip(ctx.req.headers['accept-encoding'])) {
      return { raw: small, type: TYPES[extname(path)]!, headers: { ...headers, 'content-encoding': 'gzip' } };
    }
    return { raw: body, type: TYPES[extname(path)] ?? 'application/octet-stream', headers };
  };
  const index = async (ctx: Ctx): Promise<Reply> => (built.has('index.html')
    ? reply(ctx, 'index.html', 'no-cache')
    : { raw: NOT_BUILT, type: TYPES['.html']!, headers: { 'cache-control': 'no-cache', 'content-security-policy': PAGE_CSP } });
  router.on('GET', '/', index);
  router.on('GET', '/index.html', index);
  router.on('GET', '/assets/:file', async (ctx) => reply(ctx, `assets/${ctx.params.file}`, 'public, max-age=31536000, immutable'));
  // Other files at the top of the build (an icon, a manifest): revalidated, as their names do not change.
  for (const path of built.keys()) {
    if (!path.includes('/') && path !== 'index.html') router.on('GET', `/${path}`, async (ctx) => reply(ctx, path, 'no-cache'));
  }
}
