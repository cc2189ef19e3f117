// npm run deb: dist/deb/pi-agent_<version>_<arch>.deb and pi-hub_<version>_<arch>.deb, put together
// from dist/ and node_modules/ with dpkg-deb (docs/ARCHITECTURE.md, "Files on disk"; README.md,
// "Packages"). Usage: npm run deb [-- --arch ARCH] [--out DIR] [--only pi-agent|pi-hub] [--version V]
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import { parseFlags, validate } from '../../shared/args.js';
import { UsageError } from '../../shared/errors.js';
import { runMain } from '../../shared/main.js';
import { type BundledPackage, PWM_WORKER_FILE, bundleAgent } from './bundle-agent.js';
import { binaryControl, changelogVersion } from './deb822.js';
import { copyDist, copyPackages, productionPackages } from './hub-tree.js';
import { ROOT } from './paths.js';
import { thirdPartyParagraphs } from './third-party.js';
import { ELF_MACHINES, Tree, elfMachine, filesUnder, installedSizeKiB, md5sums, normalizeModes } from './tree.js';

export const PACKAGES = ['pi-agent', 'pi-hub'] as const;
export type PackageName = (typeof PACKAGES)[number];

export interface BuildOptions {
  root?: string;
  outDir?: string;
  /** Debian architecture; default: this machine's (dpkg --print-architecture). */
  arch?: string;
  only?: PackageName[];
  /** Debian version; default: package.json's, which must be debian/changelog's first entry. */
  version?: string;
}

export interface BuiltPackage { name: PackageName; file: string; bytes: number; bundled?: BundledPackage[] }

const read = (root: string, ...p: string[]) => readFileSync(join(root, ...p), 'utf8');
const sh = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'pipe'] });

/** package.json engines: `node` is the hub's (and the checkout's), `node-pi-agent` the agent's. */
export function agentMinNode(root: string): string {
  const pkg = JSON.parse(read(root, 'package.json')) as { engines?: Record<string, string> };
  const m = /^>=\s*(\d+\.\d+)/.exec(pkg.engines?.['node-pi-agent'] ?? '');
  if (!m) throw new Error('package.json: engines["node-pi-agent"] must be ">=MAJOR.MINOR"');
  return m[1]!;
}

function debVersion(root: string, override: string | undefined): string {
  if (override !== undefined) return override;
  const version = (JSON.parse(read(root, 'package.json')) as { version: string }).version;
  const logged = changelogVersion(read(root, 'debian', 'changelog'));
  if (logged !== version) throw new Error(`debian/changelog's first entry is ${logged}, package.json says ${version}: add an entry`);
  return version;
}

/** Seconds of debian/changelog's first date: file times in the package do not depend on the build's. */
function changelogEpoch(root: string): string {
  const m = /^ -- .*?> {2}(.+)$/m.exec(read(root, 'debian', 'changelog'));
  const t = m ? Date.parse(m[1]!) : NaN;
  return String(Number.isNaN(t) ? 0 : Math.floor(t / 1000));
}

/** What both packages carry the same way: the unit, documentation, lintian's overrides, maintainer scripts. */
function common(root: string, tree: Tree, name: PackageName, thirdParty: string, units: string[]): void {
  for (const unit of units) tree.file(`usr/lib/systemd/system/${unit}`, { from: join(root, 'systemd', unit) });
  tree.file(`usr/share/doc/${name}/copyright`, `${read(root, 'debian', 'copyright').trimEnd()}\n${thirdParty ? `\n${thirdParty}\n` : ''}`);
  tree.file(`usr/share/doc/${name}/changelog.gz`, gzipSync(readFileSync(join(root, 'debian', 'changelog')), { level: 9 }));
  tree.file(`usr/share/man/man1/${name}.1.gz`, gzipSync(readFileSync(join(root, 'debian', `${name}.1`)), { level: 9 }));
  tree.file(`usr/share/lintian/overrides/${name}`, { from: join(root, 'debian', `${name}.lintian-overrides`) });
  tree.dir('DEBIAN');
  for (const script of ['postinst', 'prerm', 'postrm']) tree.file(`DEBIAN/${script}`, { from: join(root, 'debian', `${name}.${script}`) }, 0o755);
}

async function stageAgent(root: string, tree: Tree, version: string): Promise<BundledPackage[]> {
  const modules = readdirSync(join(root, 'modules')).filter((n) => n.endsWith('.json')).sort();
  tree.dir('etc/pi-agent', 0o700);
  tree.dir('etc/pi-agent/modules', 0o755);
  for (const m of modules) {
    tree.file(`etc/pi-agent/modules/${m}`, { from: join(root, 'modules', m) });
    tree.file(`usr/share/pi-agent/modules/${m}`, { from: join(root, 'modules', m) });
  }
  const outFile = join(tree.dir('usr/lib/pi-agent'), 'pi-agent.mjs');
  const bundle = await bundleAgent({ root, outFile, minNode: agentMinNode(root), facts: { version, shippedModules: '../../share/pi-agent/modules/', pwmWorker: `./${PWM_WORKER_FILE}` } });
  chmodSync(outFile, 0o755);
  for (const f of [PWM_WORKER_FILE, ...bundle.chunks]) chmodSync(join(dirname(outFile), f), 0o644);
  tree.symlink('usr/bin/pi-agent', '../lib/pi-agent/pi-agent.mjs');
  common(root, tree, 'pi-agent', thirdPartyParagraphs(bundle.packages), ['pi-agent.service', 'pi-agent-update.service']);
  // Every file under /etc is the owner's: a conffile, listed in debian/pi-agent.conffiles.
  const listed = read(root, 'debian', 'pi-agent.conffiles').split('\n').filter(Boolean).sort();
  const inEtc = filesUnder(tree.root).filter((f) => f.startsWith('etc/')).map((f) => `/${f}`).sort();
  if (JSON.stringify(listed) !== JSON.stringify(inEtc)) throw new Error(`debian/pi-agent.conffiles lists ${listed.join(' ')}; /etc holds ${inEtc.join(' ')}`);
  tree.file('DEBIAN/conffiles', `${listed.join('\n')}\n`);
  return bundle.packages;
}

const HUB_WRAPPER = `#!/bin/sh
# pi-hub: Debian's node runs it, whatever node comes first on PATH: the native modules in
# /usr/lib/pi-hub/node_modules were built for that one.
exec /usr/bin/node /usr/lib/pi-hub/dist/broker/cli.js "$@"
`;

function stageHub(root: string, tree: Tree, version: string, arch: string): string[] {
  const lib = 'usr/lib/pi-hub';
  tree.file(`${lib}/package.json`, `${JSON.stringify({ name: 'pi-hub', version, private: true, type: 'module' }, null, 2)}\n`);
  copyDist(root, tree.dir(`${lib}/dist`));
  for (const m of readdirSync(join(root, 'modules')).filter((n) => n.endsWith('.json'))) tree.file(`${lib}/modules/${m}`, { from: join(root, 'modules', m) });
  const packages = productionPackages(root);
  copyPackages(root, packages, join(tree.root, lib));
  tree.file('usr/bin/pi-hub', HUB_WRAPPER, 0o755);
  common(root, tree, 'pi-hub', thirdPartyParagraphs(packages), ['pi-hub.service']);
  // Native modules: built here for this machine; a package labelled for another would not load.
  const elves = filesUnder(tree.root).filter((f) => !f.startsWith('DEBIAN/') && elfMachine(join(tree.root, f)) !== null);
  for (const f of elves) {
    if (elfMachine(join(tree.root, f)) !== ELF_MACHINES[arch]) {
      throw new Error(`${f} is not built for ${arch}: build pi-hub for ${arch} on an ${arch} machine (npm ci && npm run deb there)`);
    }
    sh('strip', ['--strip-unneeded', '--remove-section=.comment', '--remove-section=.note', join(tree.root, f)]);
  }
  return elves.map((f) => join(tree.root, f));
}

/** ${shlibs:Depends} from Debian's own dpkg-shlibdeps (it reads debian/control, so it runs at the root). */
function shlibsDepends(root: string, elves: string[]): string {
  if (elves.length === 0) return '';
  const out = sh('dpkg-shlibdeps', ['-O', '--warnings=0', ...elves.flatMap((e) => ['-e', e])], root);
  return /^shlibs:Depends=(.*)$/m.exec(out)?.[1] ?? '';
}

export async function buildDebs(o: BuildOptions = {}): Promise<BuiltPackage[]> {
  const root = o.root ?? ROOT;
  const outDir = o.outDir ?? join(root, 'dist', 'deb');
  const arch = o.arch ?? sh('dpkg', ['--print-architecture']).trim();
  if (!(arch in ELF_MACHINES)) throw new UsageError(`--arch: one of ${Object.keys(ELF_MACHINES).join(', ')}`);
  const version = debVersion(root, o.version);
  const hubNodeMajor = Number(process.versions.node.split('.')[0]);
  const control = read(root, 'debian', 'control');
  const built: BuiltPackage[] = [];
  mkdirSync(outDir, { recursive: true });
  for (const name of o.only ?? PACKAGES) {
    const stage = mkdtempSync(join(outDir, `.stage-${name}-`));
    try {
      const tree = new Tree(stage);
      let vars: Record<string, string>;
      let bundled: BundledPackage[] | undefined;
      if (name === 'pi-agent') {
        bundled = await stageAgent(root, tree, version);
        vars = { 'nodejs:Depends': `nodejs (>= ${agentMinNode(root)})` };
      } else {
        const elves = stageHub(root, tree, version, arch);
        // better-sqlite3 is built for this Node's ABI: the package needs a Node of the same major.
        vars = { 'nodejs:Depends': `nodejs (>= ${hubNodeMajor}), nodejs (<< ${hubNodeMajor + 1}~)`, 'shlibs:Depends': shlibsDepends(root, elves) };
      }
      normalizeModes(stage, name === 'pi-agent' ? { 'etc/pi-agent': 0o700 } : {});
      tree.file('DEBIAN/md5sums', md5sums(stage));
      tree.file('DEBIAN/control', binaryControl(control, name, { version, architecture: arch, installedSizeKiB: installedSizeKiB(stage), vars }));
      const file = join(outDir, `${name}_${version}_${arch}.deb`);
      execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, file], {
        stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH ?? changelogEpoch(root) },
      });
      built.push({ name, file, bytes: statSync(file).size, ...(bundled ? { bundled } : {}) });
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  }
  return built;
}

const USAGE = `usage: npm run deb [-- --arch ARCH] [--out DIR] [--only pi-agent|pi-hub] [--version V]

  Builds dist/deb/pi-agent_<version>_<arch>.deb and pi-hub_<version>_<arch>.deb from dist/ and
  node_modules/ (run npm ci first). pi-agent is one JavaScript file and can be labelled for any
  architecture; pi-hub carries native modules and must be built on a machine of its architecture.
`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runMain('npm run deb', async (argv) => {
    const { values } = parseFlags(argv, { arch: { type: 'string' }, out: { type: 'string' }, only: { type: 'string', multiple: true }, version: { type: 'string' } });
    if (values.help) { process.stdout.write(USAGE); return 0; }
    const only = values.only === undefined ? undefined : validate(z.array(z.enum(PACKAGES)), values.only, '--only');
    if (values.version !== undefined) validate(z.string().regex(/^[0-9][A-Za-z0-9.+~-]*$/, 'a Debian version'), values.version, '--version');
    if (!existsSync(join(ROOT, 'dist', 'agent', 'cli.js'))) throw new UsageError('no dist/: run npm run build first');
    for (const b of await buildDebs({ outDir: values.out, arch: values.arch, only, version: values.version })) {
      process.stdout.write(`${b.file}  ${(b.bytes / 1024).toFixed(0)} KiB\n`);
    }
    return 0;
  });
}
