// pi-agent as one file (esbuild): only what dist/agent/cli.js really imports, tree-shaken and minified,
// for the oldest Node the package depends on, without source maps. The lazy imports of the CLI (the
// daemon, connect, doctor) and of the daemon (systeminformation, the PKI for renewal) stay lazy: esbuild
// keeps them as functions that run on first use, so `pi-agent status` never evaluates the daemon.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { build } from 'esbuild';
import type { BundleFacts } from '../../shared/bundle.js';

/**
 * Left out of the bundle and resolved at run time, if present: GPIO libraries with native addons
 * (onoff's epoll, pigpio) and ws's optional native helpers. The package compiles nothing; the agent
 * must import these dynamically and do without them.
 */
export const OPTIONAL_NATIVE = ['onoff', 'epoll', 'pigpio', 'bufferutil', 'utf-8-validate'];

/** The ESM bundle still holds CommonJS dependencies that call require() for Node's built-ins. */
const REQUIRE_SHIM = "import { createRequire as __pifleetCreateRequire } from 'node:module'; const require = __pifleetCreateRequire(import.meta.url);";

export interface BundledPackage { name: string; version: string; dir: string }
export interface AgentBundle { bytes: number; packages: BundledPackage[]; inputs: string[] }

/** The software PWM's worker, bundled beside the agent (BundleFacts.pwmWorker names it). */
export const PWM_WORKER_FILE = 'pwm-worker.mjs';

export interface BundleOptions {
  /** The repository (or a copy of it) holding dist/ and node_modules/. */
  root: string;
  outFile: string;
  facts: BundleFacts;
  /** "18.19": esbuild's target, the lowest Node the package allows. */
  minNode: string;
}

export async function bundleAgent(o: BundleOptions): Promise<AgentBundle> {
  const result = await build({
    absWorkingDir: o.root,
    entryPoints: [join(o.root, 'dist', 'agent', 'cli.js')],
    outfile: o.outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${o.minNode}`,
    minify: true,
    legalComments: 'none',
    sourcemap: false,
    metafile: true,
    external: OPTIONAL_NATIVE,
    define: { PIFLEET_BUNDLE: JSON.stringify(o.facts) },
    banner: { js: REQUIRE_SHIM },
    logLevel: 'warning',
  });
  // The shebang names Debian's node itself: no PATH lookup, so no other node on PATH is picked up.
  const text = `#!/usr/bin/node\n${readFileSync(o.outFile, 'utf8').replace(/^#![^\n]*\n/, '')}`;
  writeFileSync(o.outFile, text);
  // A worker thread runs a file of its own: the software PWM's, as its own small bundle.
  const worker = await build({
    absWorkingDir: o.root,
    entryPoints: [join(o.root, 'dist', 'agent', 'gpio', 'pwm-worker.js')],
    outfile: join(dirname(o.outFile), PWM_WORKER_FILE),
    bundle: true, platform: 'node', format: 'esm', target: `node${o.minNode}`, minify: true, legalComments: 'none', sourcemap: false,
    metafile: true, logLevel: 'warning',
  });
  const inputs = [...new Set([...Object.keys(result.metafile.inputs), ...Object.keys(worker.metafile.inputs)])].sort();
  return { bytes: Buffer.byteLength(text), packages: packagesOf(o.root, inputs), inputs };
}

/** The npm packages among esbuild's inputs (`node_modules/@scope/name/…`), each once. */
export function packagesOf(root: string, inputs: string[]): BundledPackage[] {
  const dirs = new Set<string>();
  for (const input of inputs) {
    const parts = input.split(/[\\/]/);
    const i = parts.lastIndexOf('node_modules');
    if (i < 0) continue;
    const n = parts[i + 1]!.startsWith('@') ? 2 : 1;
    dirs.add(parts.slice(0, i + 1 + n).join(sep));
  }
  return [...dirs].sort().map((d) => {
    const dir = join(root, d);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
    return { name: pkg.name, version: pkg.version, dir };
  });
}

