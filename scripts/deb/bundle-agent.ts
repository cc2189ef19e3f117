// pi-agent bundled with esbuild: only what dist/agent/cli.js really imports, tree-shaken and minified,
// for the oldest Node the package depends on, without source maps. Split at the dynamic imports: the
// entry file holds the command line, and what the CLI (the daemon, connect, doctor, the modules and gpio
// commands) and the daemon (the PKI for renewal) import lazily are chunk files beside it, read only when
// first used. Node keeps the source text of every module it loaded (V8 compiles functions lazily from
// it), so a daemon that never renews in this run never holds the X.509 code (docs/BENCHMARKING.md).
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { type Plugin, build } from 'esbuild';
import type { BundleFacts } from '../../shared/bundle.js';

/**
 * Left out of the bundle and resolved at run time, if present: GPIO libraries with native addons
 * (onoff's epoll, pigpio) and ws's optional native helpers. The package compiles nothing; the agent
 * must import these dynamically and do without them.
 */
export const OPTIONAL_NATIVE = ['onoff', 'epoll', 'pigpio', 'bufferutil', 'utf-8-validate'];

/** The ESM bundle still holds CommonJS dependencies that call require() for Node's built-ins. */
const REQUIRE_SHIM = "import { createRequire as __pifleetCreateRequire } from 'node:module'; const require = __pifleetCreateRequire(import.meta.url);";

/**
 * zod without the parsers it generates with `new Function` for each object schema it parses: under
 * `--jitless` they run interpreted like the rest, and each costs its source and bytecode (about 0.4 MB
 * for the daemon's schemas; docs/BENCHMARKING.md). zod reads its config from this global when it
 * first loads (docs/INTERNALS.md), so it goes at the top of every file: whichever runs first.
 */
const ZOD_JITLESS = 'globalThis.__zod_globalConfig ??= { jitless: true };';

export interface BundledPackage { name: string; version: string; dir: string }
export interface AgentBundle {
  /** The entry file's size with its shebang, and all files' together. */
  bytes: number;
  totalBytes: number;
  /** The chunk files beside the entry file (names with a content hash: `daemon-2QW3E4RT.mjs`). */
  chunks: string[];
  packages: BundledPackage[];
  inputs: string[];
}

/**
 * What the bundle gives some of its dependencies' `require()`s instead, so that the daemon loads less
 * (each module loaded stays in memory: its code and, for node's own, its source in node's binary;
 * docs/BENCHMARKING.md):
 * - `node`: npm's copy of Node's own streams (readable-stream 4.x: those of Node 18–20), which mqtt.js
 *   and bl use to run in browsers; in Node, node:stream is the same code, already loaded.
 * - `unused`: mqtt.js's keepalive timers in a Web Worker, chosen only in a browser
 *   (mqtt/lib/get-timer.js; `timerVariant` stays 'auto', setInterval in Node).
 * - `lazy`: loaded on first use, not at import: lru-cache, only for MQTT 5 topic aliases (the agent
 *   speaks 3.1.1), whose import reads the global `performance` and so loads node's perf_hooks (0.8 MB);
 *   node:zlib for ws, only for permessage-deflate, which the agent turns off (0.75 MB).
 * - `unless DEBUG`: the `debug` package that mqtt.js and mqtt-packet log through loads node's tty to
 *   colour its output; the real one is loaded only when DEBUG is set (`DEBUG=mqttjs* pi-agent run`).
 * `from` limits a replacement to the packages that import the name.
 */
export const REPLACED_REQUIRES: Array<{ name: string; from?: string; kind: 'node' | 'unused' | 'lazy' | 'unless DEBUG'; contents: string }> = [
  { name: 'readable-stream', kind: 'node', contents: "module.exports = require('node:stream');" },
  { name: 'worker-timers', kind: 'unused', contents: "const no = () => { throw new Error('worker-timers: for browsers; pi-agent uses setInterval'); };\nmodule.exports = { setInterval: no, clearInterval: no, setTimeout: no, clearTimeout: no };" },
  { name: 'lru-cache', kind: 'lazy', contents: lazyModule('lru-cache') },
  { name: 'zlib', from: '/node_modules/ws/', kind: 'lazy', contents: lazyModule('node:zlib') },
  {
    name: 'debug', kind: 'unless DEBUG', contents: `if (process.env.DEBUG) module.exports = require('debug');
else {
  const off = (namespace) => Object.assign(() => {}, { namespace, enabled: false, log() {}, destroy: () => false, extend: (s, d = ':') => off(namespace + d + s) });
  module.exports = Object.assign(off, { default: off, debug: off, enable() {}, disable: () => '', enabled: () => false, names: [], skips: [], formatters: {} });
}`,
  },
];

/** A CommonJS module that requires `spec` when one of its properties is first read. */
function lazyModule(spec: string): string {
  return `let m; const load = () => (m ??= require(${JSON.stringify(spec)}));
module.exports = new Proxy({}, { get: (_, k) => load()[k], has: (_, k) => k in load(), ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, k) => { const d = Object.getOwnPropertyDescriptor(load(), k); return d && { ...d, configurable: true }; } });`;
}

const replacedRequires: Plugin = {
  name: 'pifleet-replaced-requires',
  setup(b) {
    const names = REPLACED_REQUIRES.map((r) => r.name.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|');
    b.onResolve({ filter: new RegExp(`^(${names})$`) }, (args) => {
      if (args.namespace === 'pifleet-replaced') return undefined; // a lazy module's own require: the real one
      const i = REPLACED_REQUIRES.findIndex((r) => r.name === args.path && (!r.from || args.importer.includes(r.from)));
      return i < 0 ? undefined : { path: args.path, namespace: 'pifleet-replaced', pluginData: { i, resolveDir: args.resolveDir } };
    });
    b.onLoad({ filter: /.*/, namespace: 'pifleet-replaced' }, (args) => {
      const { i, resolveDir } = args.pluginData as { i: number; resolveDir: string };
      return { contents: REPLACED_REQUIRES[i]!.contents, loader: 'js', resolveDir };
    });
  },
};

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
  const outDir = dirname(o.outFile);
  const entryName = basename(o.outFile).replace(/\.mjs$/, '');
  const result = await build({
    absWorkingDir: o.root,
    entryPoints: [{ in: join(o.root, 'dist', 'agent', 'cli.js'), out: entryName }],
    outdir: outDir,
    // .mjs: /usr/lib/pi-agent has no package.json saying "type": "module".
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: '[name]-[hash]',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${o.minNode}`,
    minify: true,
    legalComments: 'none',
    sourcemap: false,
    metafile: true,
    external: OPTIONAL_NATIVE,
    plugins: [replacedRequires],
    define: { PIFLEET_BUNDLE: JSON.stringify(o.facts) },
    // In every file: a chunk's CommonJS code calls the require() of its own module scope.
    banner: { js: `${REQUIRE_SHIM}\n${ZOD_JITLESS}` },
    logLevel: 'warning',
  });
  // The shebang names Debian's node itself: no PATH lookup, so no other node on PATH is picked up.
  const text = `#!/usr/bin/node\n${readFileSync(o.outFile, 'utf8').replace(/^#![^\n]*\n/, '')}`;
  writeFileSync(o.outFile, text);
  const outputs = Object.entries(result.metafile.outputs).map(([file, out]) => ({ file: join(o.root, file), bytes: out.bytes }));
  const chunks = outputs.map((x) => basename(x.file)).filter((n) => n !== basename(o.outFile)).sort();
  // A worker thread runs a file of its own: the software PWM's, as its own small bundle.
  const worker = await build({
    absWorkingDir: o.root,
    entryPoints: [join(o.root, 'dist', 'agent', 'gpio', 'pwm-worker.js')],
    outfile: join(outDir, PWM_WORKER_FILE),
    bundle: true, platform: 'node', format: 'esm', target: `node${o.minNode}`, minify: true, legalComments: 'none', sourcemap: false,
    metafile: true, logLevel: 'warning',
  });
  const inputs = [...new Set([...Object.keys(result.metafile.inputs), ...Object.keys(worker.metafile.inputs)])].sort();
  const totalBytes = Buffer.byteLength(text) + outputs.filter((x) => x.file !== o.outFile).reduce((n, x) => n + x.bytes, 0);
  return { bytes: Buffer.byteLength(text), totalBytes, chunks, packages: packagesOf(o.root, inputs), inputs };
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

