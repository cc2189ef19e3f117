// What pi-hub's package carries under /usr/lib/pi-hub: the compiled program (what `npm run build` put
// in dist/ for it, a dashboard included once there is one), the shipped modules for the demo, and the
// production dependencies as installed here, their native modules built for this machine, without
// what only building or developing needs.
import { cpSync, existsSync, lstatSync, readFileSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/** dist/ folders that are not the hub's: tests, the bench, build scripts, the packages themselves. */
export const NOT_THE_HUBS = ['test', 'bench', 'scripts', 'deb', 'node_modules'];
/** Root dependencies only the agent uses, with native code of their own (GPIO). */
export const AGENT_ONLY_DEPENDENCIES = ['onoff', 'epoll', 'pigpio'];

interface PackageJson {
  name: string;
  version: string;
  license?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readPkg = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;

/** Where Node finds package `name` from the package in `fromDir`: its node_modules, then each parent's. */
function resolvePackage(root: string, fromDir: string, name: string): string | null {
  let d = fromDir;
  for (;;) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (d === root) return null;
    const parent = dirname(d);
    if (parent === d || !parent.startsWith(root)) return null;
    d = parent.endsWith(`${sep}node_modules`) ? dirname(parent) : parent;
  }
}

export interface ShippedPackage { name: string; version: string; license: string; dir: string }

/**
 * The production dependency closure of the root package: dependencies, and optional ones that are
 * installed, recursively, each directory once. A missing required dependency is an error.
 */
export function productionPackages(root: string, exclude: string[] = AGENT_ONLY_DEPENDENCIES): ShippedPackage[] {
  const found = new Map<string, ShippedPackage>();
  const visit = (fromDir: string, pkg: PackageJson) => {
    const wanted = [
      ...Object.keys(pkg.dependencies ?? {}).map((n) => ({ n, optional: false })),
      ...Object.keys(pkg.optionalDependencies ?? {}).map((n) => ({ n, optional: true })),
    ];
    for (const { n, optional } of wanted) {
      if ((fromDir === root && exclude.includes(n)) || n.startsWith('@types/')) continue; // declarations: nothing runs them
      const dir = resolvePackage(root, fromDir, n);
      if (dir === null) {
        if (optional) continue;
        throw new Error(`${pkg.name} needs ${n}, which is not installed (npm ci first)`);
      }
      if (found.has(dir)) continue;
      const dep = readPkg(dir);
      found.set(dir, { name: dep.name, version: dep.version, license: dep.license ?? 'unknown', dir });
      visit(dir, dep);
    }
  };
  visit(root, readPkg(root));
  return [...found.values()].sort((a, b) => a.dir.localeCompare(b.dir));
}

/** Files and folders no running program reads: TypeScript sources and declarations, dotfiles (.bin/, .eslintrc, .gitattributes…), build files (a Makefile). */
const DROPPED_AT_TOP = /^(\.github|__tests__|tests?|fixtures?|examples?|benchmarks?|docs?|Makefile)$/i;
const DROPPED_ANYWHERE = /(^|\/)\.[^/]*$|\.(map|ts|mts|cts|md|markdown|tsbuildinfo)$/i;
const LICENSE = /(^|\/)(licen[cs]e|copying|notice)[^/]*$/i;

/** For a package with native code: keep build/Release/*.node, drop its sources and build leftovers. */
function nativeDrop(rel: string, native: boolean, hasBuilt: boolean): boolean {
  if (!native) return false;
  if (/^(src|deps|argon2)(\/|$)/.test(rel) || /\.(c|cc|cpp|h|hpp|gyp|gypi)$/.test(rel) || rel === 'binding.gyp') return true;
  if (/^build(\/|$)/.test(rel)) return !(rel === 'build' || rel === 'build/Release' || /^build\/Release\/(?!test)[^/]+\.node$/.test(rel));
  // Prebuilt binaries for every platform: the one built here is used, the others would be foreign ELF files.
  return hasBuilt && /^prebuilds(\/|$)/.test(rel);
}

/** Removes the directories under `dir` that hold no file (left by what the filters dropped). */
function removeEmptyDirs(dir: string): boolean {
  let empty = true;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (lstatSync(full).isDirectory() && removeEmptyDirs(full)) rmdirSync(full);
    else empty = false;
  }
  return empty;
}

/** Copies each package's own files (its node_modules/ comes as packages of their own) under `dest`. */
export function copyPackages(root: string, packages: ShippedPackage[], dest: string): void {
  for (const p of packages) {
    const native = existsSync(join(p.dir, 'binding.gyp'));
    const built = join(p.dir, 'build', 'Release');
    const hasBuilt = native && existsSync(built) && readdirSync(built).some((n) => n.endsWith('.node'));
    cpSync(p.dir, join(dest, relative(root, p.dir)), {
      recursive: true,
      filter: (src) => {
        const rel = relative(p.dir, src).split(sep).join('/');
        if (rel === '') return true;
        if (rel === 'node_modules' || rel.startsWith('node_modules/')) return false;
        if (LICENSE.test(rel)) return true;
        if (DROPPED_AT_TOP.test(rel) || DROPPED_ANYWHERE.test(rel)) return false;
        return !nativeDrop(rel, native, hasBuilt);
      },
    });
  }
  removeEmptyDirs(join(dest, 'node_modules'));
}

/** dist/ without what is not the hub's, without source maps and declarations. */
export function copyDist(root: string, dest: string): void {
  const dist = join(root, 'dist');
  for (const name of readdirSync(dist)) {
    if (NOT_THE_HUBS.includes(name) || !statSync(join(dist, name)).isDirectory()) continue;
    cpSync(join(dist, name), join(dest, name), { recursive: true, filter: (src) => !/\.(map|d\.ts)$/.test(src) });
  }
}
