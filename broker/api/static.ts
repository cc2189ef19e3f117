// The dashboard's files, built by Vite into dist/dashboard: index.html at / (revalidated every time)
// and hashed assets under /assets/ (cached for a year: a new build has new names). Read once at start;
// only what the build put there is served, under the page's own CSP.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../shared/log.js';
import { HttpError, type Reply, type Router } from './http.js';

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

export function dashboardRoutes(router: Router, log: Logger, dir = DASHBOARD_DIR): void {
  const built = files(dir);
  if (!built.has('index.html')) log.warn('the dashboard is not built; / says so', { dir });
  const reply = (path: string, cache: string): Reply => {
    const body = built.get(path);
    if (!body) throw new HttpError(404, 'not_found', `no ${path}`);
    return { raw: body, type: TYPES[extname(path)] ?? 'application/octet-stream', headers: { 'cache-control': cache, 'content-security-policy': PAGE_CSP } };
  };
  const index = async (): Promise<Reply> => (built.has('index.html')
    ? reply('index.html', 'no-cache')
    : { raw: NOT_BUILT, type: TYPES['.html']!, headers: { 'cache-control': 'no-cache', 'content-security-policy': PAGE_CSP } });
  router.on('GET', '/', index);
  router.on('GET', '/index.html', index);
  router.on('GET', '/assets/:file', async (ctx) => reply(`assets/${ctx.params.file}`, 'public, max-age=31536000, immutable'));
  // Other files at the top of the build (an icon, a manifest): revalidated, as their names do not change.
  for (const path of built.keys()) {
    if (!path.includes('/') && path !== 'index.html') router.on('GET', `/${path}`, async () => reply(path, 'no-cache'));
  }
}
