// The code under test, frozen for the whole run. dist/ is shared: others rebuild it (npm test) while a
// bench runs, and each point starts a fresh generator that loads dist/ again, so a rebuild mid-run
// changed what was measured (seen here: a generator without write coalescing from round 2 on). The
// bench therefore copies dist/ to a private directory at the start and runs everything from there.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SNAPSHOT = 'PIFLEET_BENCH_SNAPSHOT';

/** The repository root, seen from dist/bench of the checkout (or of a snapshot). */
export const sourceRoot = () => process.env.PIFLEET_BENCH_SOURCE ?? fileURLToPath(new URL('../../', import.meta.url));

export const inSnapshot = () => Boolean(process.env[SNAPSHOT]);

/** Copies dist/ (with package.json, modules/, systemd/, debian/, and node_modules linked) to a temp dir; returns it and its run.js. */
export function takeSnapshot(): { dir: string; entry: string; env: NodeJS.ProcessEnv; remove(): void } {
  const root = sourceRoot();
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-bench-code-'));
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  // What the programs read at run time beside their code: the shipped modules (pi-agent connect
  // installs them), the systemd unit (the agent is measured with its environment) and debian/ (the
  // agent's package is built for the bench).
  for (const d of ['modules', 'systemd', 'debian']) cpSync(join(root, d), join(dir, d), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return {
    dir,
    entry: join(dir, 'dist', 'bench', 'run.js'),
    env: { [SNAPSHOT]: dir, PIFLEET_BENCH_SOURCE: root },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** "3044af3" or "3044af3 + uncommitted changes in broker/x.ts, shared/y.ts": what the build was made from. */
export function describeSource(): string {
  const root = sourceRoot();
  const git = (args: string[]) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
  const head = git(['rev-parse', '--short', 'HEAD']);
  if (head.status !== 0) return 'not a git checkout';
  const dirty = git(['status', '--porcelain', '--', 'broker', 'shared', 'bench', 'package.json', 'package-lock.json']).stdout
    .split('\n').filter(Boolean).map((l) => l.slice(3));
  return dirty.length === 0 ? `git ${head.stdout.trim()}` : `git ${head.stdout.trim()} + uncommitted changes in ${dirty.join(', ')}`;
}
