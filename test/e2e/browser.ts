// Debian's Chromium driven by playwright-core, for the dashboard's browser tests: never a downloaded
// browser. The hub's root CA is trusted through a launch flag (its SPKI hash), not by ignoring every
// certificate error: a page served by anything else still fails. Each browser gets a fresh profile.
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import type { TestHub } from '../helpers/hub.js';
import { ROOT } from '../helpers/process.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const PASSWORD = 'correct horse battery'; // what TestHub.addUser sets
/** Screenshots for people to look at: not asserted on. */
export const ARTIFACTS = join(ROOT, 'dist', 'test-artifacts');

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo: what --ignore-certificate-errors-spki-list takes. */
export function spkiHash(pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

export async function launch(hub: TestHub): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`the browser tests need Debian's chromium at ${CHROMIUM}: apt-get install chromium`);
  const root = readFileSync(join(hub.dataDir, 'ca', 'root.crt'), 'utf8');
  // The hub sends its chain up to the root, so pinning the root's key trusts exactly this hub's CA.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spkiHash(root)}`] });
}

/**
 * What a page did that it must not: a request to another origin, a CSP violation, an uncaught error.
 * Tests assert the list is empty at the end.
 */
export class Guard {
  readonly problems: string[] = [];
  constructor(private readonly origin: string) {}

  watch(context: BrowserContext): BrowserContext {
    context.on('request', (r) => {
      const url = new URL(r.url());
      if (url.protocol !== 'data:' && url.protocol !== 'blob:' && `${url.protocol}//${url.host}` !== this.origin.replace(/^wss:/, 'https:')) {
        this.problems.push(`request to another origin: ${r.url()}`);
      }
    });
    context.on('page', (p) => this.watchPage(p));
    return context;
  }

  watchPage(page: Page): void {
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) this.problems.push(`CSP: ${m.text()}`);
    });
    page.on('pageerror', (e) => this.problems.push(`uncaught: ${e.message}`));
    page.on('websocket', (ws) => {
      if (!ws.url().startsWith(this.origin.replace(/^https:/, 'wss:'))) this.problems.push(`WebSocket to another origin: ${ws.url()}`);
    });
  }
}

export async function newContext(browser: Browser, hub: TestHub, guard: Guard, opts: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: hub.httpsUrl, viewport: { width: 1280, height: 900 }, ...opts });
  return guard.watch(context);
}

export async function login(page: Page, user: string, password = PASSWORD): Promise<void> {
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * `n` windows of `user` on one device page, each in a context (a session) of its own: what one does,
 * the others learn only through the hub.
 */
export async function deviceWindows(browser: Browser, hub: TestHub, guard: Guard, serial: string, n = 2, user = 'alice'): Promise<Page[]> {
  const pages: Page[] = [];
  for (let i = 0; i < n; i++) {
    const page = await (await newContext(browser, hub, guard)).newPage();
    await page.goto(`/#/devices/${serial}`);
    await login(page, user);
    await page.getByRole('heading', { name: serial }).waitFor();
    pages.push(page);
  }
  return pages;
}

/** The whole page from its top, or with `viewport` only what is on the screen (a dialog). */
export async function screenshot(page: Page, name: string, opts: { viewport?: boolean } = {}): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  if (!opts.viewport) await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path, fullPage: !opts.viewport });
  return path;
}

/** The device page's row in the list, by serial. */
export const row = (page: Page, serial: string) => page.locator(`tr[data-serial="${serial}"]`);
