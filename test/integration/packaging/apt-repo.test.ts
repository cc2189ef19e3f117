// npm run apt-repo's repository, signed with a throwaway key, as apt sees it: apt-get update with
// signed-by= and isolated state (this machine's apt configuration, lists and cache are never read or
// written), then the install resolved; a tampered index or signature makes apt refuse.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { builtDebs, needTool } from '../../helpers/packaging.js';
import { type RunResult, ROOT, runProgram } from '../../helpers/process.js';

const APT_REPO = join(ROOT, 'dist', 'scripts', 'deb', 'apt-repo.js');
let work = '';

/** A new gpg home with one ed25519 signing key; returns its fingerprint. */
function throwawayKey(home: string, name: string): string {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  execFileSync('gpg', ['--batch', '--homedir', home, '--passphrase', '', '--quick-gen-key', `${name} <${name}@test.invalid>`, 'ed25519', 'sign', '1d'], { stdio: 'ignore' });
  const out = execFileSync('gpg', ['--batch', '--homedir', home, '--with-colons', '--list-secret-keys'], { encoding: 'utf8' });
  return /^fpr:+([0-9A-F]{40}):/m.exec(out)![1]!;
}

/**
 * apt with everything of its own under `dir`: APT_CONFIG is read first and points every directory,
 * the configuration parts and the dpkg status there, so /etc/apt and /var/lib/apt are not used.
 */
function isolatedApt(dir: string, repo: string, keyring: string, nodejsVersion: string) {
  for (const d of ['etc/parts', 'etc/sources.list.d', 'etc/preferences.d', 'etc/trusted.gpg.d', 'state/lists/partial', 'cache/archives/partial', 'log']) mkdirSync(join(dir, d), { recursive: true });
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'etc/sources.list'), `deb [signed-by=${keyring}] file:${repo} stable main\n`);
  // The status holds only what pi-agent depends on, at the version under test.
  writeFileSync(join(dir, 'status'), `Package: nodejs\nStatus: install ok installed\nPriority: optional\nSection: web\nArchitecture: ${arch}\nVersion: ${nodejsVersion}\nMaintainer: test\nDescription: stand-in\n`);
  writeFileSync(join(dir, 'apt.conf'), [
    `Dir::Etc::Parts "${dir}/etc/parts";`, 'Dir::Etc::Main "/dev/null";', `Dir::Etc::SourceList "${dir}/etc/sources.list";`,
    `Dir::Etc::SourceParts "${dir}/etc/sources.list.d";`, `Dir::Etc::Preferences "${dir}/etc/preferences";`,
    `Dir::Etc::PreferencesParts "${dir}/etc/preferences.d";`, `Dir::Etc::Trusted "${dir}/etc/trusted.gpg";`,
    `Dir::Etc::TrustedParts "${dir}/etc/trusted.gpg.d";`, `Dir::State "${dir}/state";`, `Dir::State::status "${dir}/status";`,
    `Dir::Cache "${dir}/cache";`, `Dir::Log "${dir}/log";`, 'Debug::NoLocking "true";', 'APT::Sandbox::User "root";',
    `APT::Architecture "${arch}";`, `APT::Architectures { "${arch}"; };`, 'Acquire::Languages "none";',
  ].join('\n') + '\n');
  const apt = (args: string[]): Promise<RunResult> => runProgram('apt-get', ['-q', ...args], { env: { APT_CONFIG: join(dir, 'apt.conf') }, timeoutMs: 60_000 });
  return { apt };
}

let key = '';
let gnupg = '';
let repo = '';

describe('the signed apt repository', () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'pifleet-apt-'));
  });
  after(() => {
    for (const home of [gnupg, join(work, 'other-gnupg')].filter((h) => h !== '' && existsSync(h))) execFileSync('gpgconf', ['--homedir', home, '--kill', 'all'], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  });

  test('npm run apt-repo: pool, indices, Release signed inline and detached, the public key', { timeout: 120_000 }, async (t) => {
    if (!needTool(t, 'apt-ftparchive', 'apt-utils') || !needTool(t, 'gpg', 'gnupg')) return;
    const debs = await builtDebs();
    gnupg = join(work, 'gnupg');
    key = throwawayKey(gnupg, 'pifleet-test');
    const input = join(work, 'debs');
    mkdirSync(input);
    copyFileSync(debs.agent, join(input, 'pi-agent.deb'));
    copyFileSync(debs.hub, join(input, 'pi-hub.deb'));
    repo = join(work, 'repo');
    const r = await runProgram(process.execPath, [APT_REPO, '--out', repo, '--key', key, '--gnupg-home', gnupg, '--debs', input]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /signed-by=\/usr\/share\/keyrings\/pifleet-archive-keyring\.gpg\] \S+ stable main/);
    const dist = join(repo, 'dists', 'stable');
    const release = readFileSync(join(dist, 'Release'), 'utf8');
    assert.match(release, new RegExp(`^Architectures: ${debs.arch}$`, 'm'));
    assert.match(release, new RegExp(`^ [0-9a-f]{64} +\\d+ main/binary-${debs.arch}/Packages\\.gz$`, 'm'));
    assert.match(readFileSync(join(dist, 'InRelease'), 'utf8'), /^-----BEGIN PGP SIGNED MESSAGE-----/);
    const packages = readFileSync(join(dist, 'main', `binary-${debs.arch}`, 'Packages'), 'utf8');
    assert.match(packages, /^Package: pi-agent$/m);
    assert.match(packages, new RegExp(`^Filename: pool/main/p/pi-agent/pi-agent_${debs.version}_${debs.arch}\\.deb$`, 'm'));
    // Both signatures verify with the exported key alone.
    for (const [sig, data] of [['InRelease'], ['Release.gpg', 'Release']] as const) {
      execFileSync('gpgv', ['--keyring', join(repo, 'pifleet-archive-keyring.gpg'), join(dist, sig), ...(data ? [join(dist, data)] : [])], { stdio: 'pipe' });
    }
    // Again with the same files: nothing replaced, the index signed anew.
    const again = await runProgram(process.execPath, [APT_REPO, '--out', repo, '--key', key, '--gnupg-home', gnupg, '--debs', input]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /^added/m);
  });

  test('apt-get update with signed-by= verifies it; install pi-agent resolves only with nodejs >= 18.19', { timeout: 120_000 }, async (t) => {
    if (!repo) { t.skip('no repository (previous test)'); return; }
    const keyring = join(repo, 'pifleet-archive-keyring.gpg');
    const ok = isolatedApt(join(work, 'apt-ok'), repo, keyring, '18.19.0+dfsg-6~deb12u1');
    const u = await ok.apt(['update']);
    assert.equal(u.code, 0, u.stdout + u.stderr);
    assert.doesNotMatch(u.stdout + u.stderr, /^(W|E):/m);
    const sim = await ok.apt(['install', '--simulate', '-y', 'pi-agent']);
    assert.equal(sim.code, 0, sim.stdout + sim.stderr);
    assert.match(sim.stdout, /^Inst pi-agent \(/m);
    const old = isolatedApt(join(work, 'apt-old'), repo, keyring, '18.18.2+dfsg-1');
    assert.equal((await old.apt(['update'])).code, 0);
    const refused = await old.apt(['install', '--simulate', '-y', 'pi-agent']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /Depends: nodejs \(>= 18\.19\)/);
  });

  test('a tampered Packages, a tampered InRelease or another key: apt refuses', { timeout: 120_000 }, async (t) => {
    if (!repo) { t.skip('no repository (previous test)'); return; }
    const keyring = join(repo, 'pifleet-archive-keyring.gpg');
    const copy = (name: string) => { const d = join(work, name); execFileSync('cp', ['-a', repo, d]); return d; };
    const dist = (r: string) => join(r, 'dists', 'stable');
    const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();

    const packages = copy('repo-packages');
    const index = join(dist(packages), 'main', `binary-${arch}`);
    const evil = readFileSync(join(index, 'Packages'), 'utf8').replace(/^(Version: \S+)$/m, '$1+evil');
    writeFileSync(join(index, 'Packages'), evil);
    writeFileSync(join(index, 'Packages.gz'), gzipSync(evil));
    const p = await isolatedApt(join(work, 'apt-packages'), packages, keyring, '18.19.0').apt(['update']);
    assert.notEqual(p.code, 0, p.stdout);
    assert.match(p.stdout + p.stderr, /Hash Sum mismatch|unexpected size/);

    const inRelease = copy('repo-inrelease');
    const signed = readFileSync(join(dist(inRelease), 'InRelease'), 'utf8');
    writeFileSync(join(dist(inRelease), 'InRelease'), signed.replace(/^Suite: stable$/m, 'Suite: stablf'));
    const i = await isolatedApt(join(work, 'apt-inrelease'), inRelease, keyring, '18.19.0').apt(['update']);
    assert.notEqual(i.code, 0, i.stdout);
    assert.match(i.stdout + i.stderr, /BADSIG|signatures were invalid|not signed/);

    const otherHome = join(work, 'other-gnupg');
    throwawayKey(otherHome, 'someone-else');
    writeFileSync(join(work, 'other.gpg'), execFileSync('gpg', ['--batch', '--homedir', otherHome, '--export']));
    const o = await isolatedApt(join(work, 'apt-other'), repo, join(work, 'other.gpg'), '18.19.0').apt(['update']);
    assert.notEqual(o.code, 0, o.stdout);
    assert.match(o.stdout + o.stderr, /NO_PUBKEY|not signed/);
  });
});
