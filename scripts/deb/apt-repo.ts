// npm run apt-repo -- --out DIR --key KEYID [--gnupg-home DIR] [--debs DIR] [--suite S]
// A signed apt repository from the .debs in dist/deb (README.md, "Install from the apt repository"):
//   pool/main/p/<package>/<package>_<version>_<arch>.deb   every version ever added (never replaced)
//   dists/<suite>/main/binary-<arch>/Packages(.gz)
//   dists/<suite>/{Release,InRelease,Release.gpg}  signed with KEYID
//   pifleet-archive-keyring.gpg                    the public key, for /usr/share/keyrings/
// Debian's apt-ftparchive writes the indices and gpg signs: no state besides the tree itself, so the
// directory can be published as it is and grown by running this again.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import { parseFlags, validate } from '../../shared/args.js';
import { CliError, EXIT, UsageError } from '../../shared/errors.js';
import { runMain } from '../../shared/main.js';
import { ROOT } from './paths.js';
import { filesUnder } from './tree.js';

export const KEYRING_FILE = 'pifleet-archive-keyring.gpg';
const COMPONENT = 'main';

export interface RepoOptions { out: string; key: string; gnupgHome?: string; debs: string; suite: string }

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Buffer {
  try {
    return execFileSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new CliError(`${cmd} is missing`, EXIT.FAILURE, cmd === 'apt-ftparchive' ? 'Debian: apt-get install apt-utils' : 'Debian: apt-get install gnupg');
    throw new CliError(`${cmd} ${args.join(' ')} failed: ${e.stderr?.toString().trim() ?? ''}`);
  }
}

const field = (deb: string, name: string) => run('dpkg-deb', ['--field', deb, name]).toString().trim();

/** Copies each .deb into the pool; a different file under a name already there is refused. */
function addToPool(o: RepoOptions): string[] {
  const debs = existsSync(o.debs) ? readdirSync(o.debs).filter((n) => n.endsWith('.deb')).sort() : [];
  if (debs.length === 0) throw new CliError(`no .deb in ${o.debs}`, EXIT.FAILURE, 'npm run deb first');
  const added: string[] = [];
  for (const name of debs) {
    const src = join(o.debs, name);
    const pkg = field(src, 'Package');
    const dir = join(o.out, 'pool', COMPONENT, pkg.slice(0, 1), pkg);
    // Debian's name for it, whatever the file was called: apt-ftparchive --arch goes by *_<arch>.deb.
    const dest = join(dir, `${pkg}_${field(src, 'Version').replace(/^\d+:/, '')}_${field(src, 'Architecture')}.deb`);
    mkdirSync(dir, { recursive: true });
    if (existsSync(dest)) {
      if (!readFileSync(dest).equals(readFileSync(src))) throw new CliError(`${dest} exists with other content: a released version is never replaced; raise the version`);
      continue;
    }
    copyFileSync(src, dest);
    added.push(dest);
  }
  return added;
}

export function buildRepo(o: RepoOptions): { added: string[]; architectures: string[]; sourceLine: string } {
  const added = addToPool(o);
  const pool = filesUnder(join(o.out, 'pool')).filter((f) => f.endsWith('.deb')).map((f) => join(o.out, 'pool', f));
  const architectures = [...new Set(pool.map((d) => field(d, 'Architecture')).filter((a) => a !== 'all'))].sort();
  const dist = join(o.out, 'dists', o.suite);
  for (const arch of architectures) {
    const dir = join(dist, COMPONENT, `binary-${arch}`);
    mkdirSync(dir, { recursive: true });
    const packages = run('apt-ftparchive', ['--arch', arch, 'packages', `pool/${COMPONENT}`], { cwd: o.out });
    writeFileSync(join(dir, 'Packages'), packages);
    writeFileSync(join(dir, 'Packages.gz'), gzipSync(packages, { level: 9 }));
  }
  mkdirSync(dist, { recursive: true });
  // apt-ftparchive would list an old Release and its signatures in the new one.
  for (const old of ['Release', 'InRelease', 'Release.gpg']) rmSync(join(dist, old), { force: true });
  const release = run('apt-ftparchive', [
    '-o', 'APT::FTPArchive::Release::Origin=pifleet', '-o', 'APT::FTPArchive::Release::Label=pifleet',
    '-o', `APT::FTPArchive::Release::Suite=${o.suite}`, '-o', `APT::FTPArchive::Release::Codename=${o.suite}`,
    '-o', `APT::FTPArchive::Release::Architectures=${architectures.join(' ')}`, '-o', `APT::FTPArchive::Release::Components=${COMPONENT}`,
    '-o', 'APT::FTPArchive::Release::Description=pifleet: pi-agent and pi-hub',
    'release', '.',
  ], { cwd: dist });
  writeFileSync(join(dist, 'Release'), release);
  const gpg = (args: string[]) => run('gpg', ['--batch', '--yes', '--no-tty', ...(o.gnupgHome ? ['--homedir', o.gnupgHome] : []), ...args]);
  gpg(['--local-user', o.key, '--digest-algo', 'SHA512', '--clearsign', '--output', join(dist, 'InRelease'), join(dist, 'Release')]);
  gpg(['--local-user', o.key, '--digest-algo', 'SHA512', '--armor', '--detach-sign', '--output', join(dist, 'Release.gpg'), join(dist, 'Release')]);
  const key = gpg(['--export', o.key]);
  if (key.length === 0) throw new CliError(`gpg has no public key ${o.key}`);
  writeFileSync(join(o.out, KEYRING_FILE), key);
  return { added, architectures, sourceLine: sourceLine('https://YOUR.HOST/PATH', o.suite) };
}

export const sourceLine = (url: string, suite: string) =>
  `deb [signed-by=/usr/share/keyrings/${KEYRING_FILE}] ${url} ${suite} ${COMPONENT}`;

const USAGE = `usage: npm run apt-repo -- --out DIR --key KEYID [--gnupg-home DIR] [--debs DIR] [--suite stable]

  Adds the .debs of --debs (default dist/deb) to the repository in DIR and signs its index with the
  gpg key KEYID (from --gnupg-home, default gpg's own). Publish DIR as it is; users put
  DIR/${KEYRING_FILE} in /usr/share/keyrings/ and add the source line printed at the end.
`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runMain('npm run apt-repo', async (argv) => {
    const { values } = parseFlags(argv, { out: { type: 'string' }, key: { type: 'string' }, 'gnupg-home': { type: 'string' }, debs: { type: 'string' }, suite: { type: 'string' } });
    if (values.help) { process.stdout.write(USAGE); return 0; }
    if (!values.out || !values.key) throw new UsageError('apt-repo needs --out DIR and --key KEYID', USAGE.split('\n')[0]);
    const suite = validate(z.string().regex(/^[a-z0-9][a-z0-9.-]{0,63}$/, 'letters, digits, dots and dashes'), values.suite ?? 'stable', '--suite');
    const r = buildRepo({ out: values.out, key: values.key, gnupgHome: values['gnupg-home'], debs: values.debs ?? join(ROOT, 'dist', 'deb'), suite });
    for (const a of r.added) process.stdout.write(`added ${basename(a)}\n`);
    process.stdout.write(`${values.out}: ${suite}/${COMPONENT} for ${r.architectures.join(', ')}, signed by ${values.key}\n`);
    process.stdout.write(`key: ${join(values.out, KEYRING_FILE)} → /usr/share/keyrings/${KEYRING_FILE}\nsource line: ${r.sourceLine}\n`);
    return 0;
  });
}
