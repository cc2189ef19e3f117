// npm run deb's packages as dpkg-deb and lintian see them: the files, owners, modes, conffiles and
// dependencies users rely on, no development leftovers, and no lintian error or unexplained warning.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { buildDebs } from '../../../scripts/deb/build.js';
import { builtDebs, extractDeb, needTool } from '../../helpers/packaging.js';
import { ROOT } from '../../helpers/process.js';

const exec = promisify(execFile);
const field = (deb: string, name: string) => execFileSync('dpkg-deb', ['--field', deb, name], { encoding: 'utf8' }).trim();

interface Entry { mode: string; owner: string; path: string; target?: string }

/** `dpkg-deb --contents`: "drwxr-xr-x root/root 0 2026-11-30 12:00 ./etc/" (and "-> target" for links). */
function contents(deb: string): Entry[] {
  return execFileSync('dpkg-deb', ['--contents', deb], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n').map((line) => {
    const m = /^(\S+) (\S+)\s+\d+ \S+ \S+ \.(\/.*?)\/?(?: -> (.+))?$/.exec(line);
    assert.ok(m, line);
    return { mode: m[1]!, owner: m[2]!, path: m[3]!, ...(m[4] ? { target: m[4] } : {}) };
  });
}

const CHUNK = /^\/usr\/lib\/pi-agent\/[a-z-]+-[A-Z0-9]{8}\.mjs$/;

describe('pi-agent .deb', () => {
  test('holds exactly the bundle, the units, the modules as conffiles and the docs, all root-owned', async () => {
    const { agent, version, arch } = await builtDebs();
    assert.match(agent, new RegExp(`/pi-agent_${version.replace(/[.+]/g, '\\$&')}_${arch}\\.deb$`));
    const entries = contents(agent);
    // The bundle's chunks (scripts/deb/bundle-agent.ts): names with a content hash, beside the entry file.
    const isChunk = (p: string) => CHUNK.test(p);
    const chunks = entries.filter((e) => isChunk(e.path));
    assert.ok(chunks.some((e) => /\/daemon-/.test(e.path)) && chunks.some((e) => /\/pki-/.test(e.path)), 'the daemon and the PKI in chunks of their own');
    for (const c of chunks) assert.equal(c.mode, '-rw-r--r--', c.path);
    const files = entries.filter((e) => !e.mode.startsWith('d') && !isChunk(e.path)).map((e) => e.path).sort();
    assert.deepEqual(files, [
      '/etc/pi-agent/modules/core.json', '/etc/pi-agent/modules/doctor.json', '/etc/pi-agent/modules/gpio.json', '/etc/pi-agent/modules/module.schema.json',
      '/usr/bin/pi-agent', '/usr/lib/pi-agent/pi-agent.mjs', '/usr/lib/pi-agent/pwm-worker.mjs',
      '/usr/lib/systemd/system/pi-agent-update.service', '/usr/lib/systemd/system/pi-agent.service',
      '/usr/share/doc/pi-agent/changelog.gz', '/usr/share/doc/pi-agent/copyright',
      '/usr/share/lintian/overrides/pi-agent', '/usr/share/man/man1/pi-agent.1.gz',
      '/usr/share/pi-agent/modules/core.json', '/usr/share/pi-agent/modules/doctor.json', '/usr/share/pi-agent/modules/gpio.json', '/usr/share/pi-agent/modules/module.schema.json',
    ]);
    for (const e of entries) assert.equal(e.owner, 'root/root', e.path);
    const mode = (p: string) => entries.find((e) => e.path === p)!.mode;
    assert.equal(mode('/etc/pi-agent'), 'drwx------', 'the identity directory: only root');
    assert.equal(mode('/etc/pi-agent/modules'), 'drwxr-xr-x');
    assert.equal(mode('/etc/pi-agent/modules/core.json'), '-rw-r--r--');
    assert.equal(mode('/usr/lib/pi-agent/pi-agent.mjs'), '-rwxr-xr-x');
    assert.equal(mode('/usr/lib/pi-agent/pwm-worker.mjs'), '-rw-r--r--');
    assert.equal(entries.find((e) => e.path === '/usr/bin/pi-agent')!.target, '../lib/pi-agent/pi-agent.mjs');
  });

  test('control: Depends on nodejs 18.19 alone, conffiles, maintainer scripts with set -e', async () => {
    const { agent, version, arch } = await builtDebs();
    assert.equal(field(agent, 'Package'), 'pi-agent');
    assert.equal(field(agent, 'Version'), version);
    assert.equal(field(agent, 'Architecture'), arch);
    assert.equal(field(agent, 'Depends'), 'nodejs (>= 18.19)');
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-deb-control-'));
    try {
      execFileSync('dpkg-deb', ['--control', agent, dir]);
      assert.equal(readFileSync(join(dir, 'conffiles'), 'utf8'), '/etc/pi-agent/modules/core.json\n/etc/pi-agent/modules/doctor.json\n/etc/pi-agent/modules/gpio.json\n/etc/pi-agent/modules/module.schema.json\n');
      for (const s of ['postinst', 'prerm', 'postrm']) assert.match(readFileSync(join(dir, s), 'utf8'), /^#!\/bin\/sh\n(#.*\n)*set -e$/m, s);
      assert.match(readFileSync(join(dir, 'postrm'), 'utf8'), /"\$1" = purge[\s\S]*rm -rf "\$\{DPKG_ROOT:-\}\/etc\/pi-agent"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the bundle: minified files for Node 18.19, no source map, none of the hub\'s packages', async () => {
    const { agent, version } = await builtDebs();
    const dir = extractDeb(agent, mkdtempSync(join(tmpdir(), 'pifleet-deb-x-')));
    try {
      const lib = join(dir, 'usr/lib/pi-agent');
      assert.match(readFileSync(join(lib, 'pi-agent.mjs'), 'utf8'), /^#!\/usr\/bin\/node\n/);
      const files = readdirSync(lib).filter((n) => n.endsWith('.mjs'));
      let total = 0;
      for (const name of files) {
        const text = readFileSync(join(lib, name), 'utf8');
        total += text.length;
        assert.doesNotMatch(text, /sourceMappingURL/, name);
        assert.doesNotMatch(text, /better_sqlite3|better-sqlite3|argon2|aedes-persistence|@phc\//, `a hub dependency in the agent: ${name}`);
        for (const m of text.matchAll(/from ?"(\.\/[^"]+)"|import\("(\.\/[^"]+)"\)/g)) {
          const spec = m[1] ?? m[2]!;
          assert.ok(files.includes(spec.slice(2)), `${name} imports ${spec}, which is not in the package`);
        }
      }
      assert.ok(total < 3 * 1024 * 1024, `${total} bytes`);
      const copyright = readFileSync(join(dir, 'usr/share/doc/pi-agent/copyright'), 'utf8');
      for (const dep of ['mqtt', 'ws', 'zod']) assert.match(copyright, new RegExp(`^Files: node_modules/${dep}/\\*$`, 'm'), `${dep}'s license`);
      const worker = readFileSync(join(dir, 'usr/lib/pi-agent/pwm-worker.mjs'), 'utf8');
      assert.match(worker, /Atomics\.wait/, 'the software PWM worker, bundled on its own');
      assert.doesNotMatch(worker, /from ?"\.\//, 'imports nothing beside it');
      const r = await exec(process.execPath, [join(dir, 'usr/lib/pi-agent/pi-agent.mjs'), '--version']);
      assert.equal(r.stdout.trim(), version, 'the version comes from the bundle, not a package.json beside it');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pi-hub .deb', () => {
  test('holds the hub, its production dependencies with their native modules, and nothing for development', async () => {
    const { hub, arch } = await builtDebs();
    assert.equal(field(hub, 'Architecture'), arch);
    const depends = field(hub, 'Depends');
    const major = Number(process.versions.node.split('.')[0]);
    assert.match(depends, /^adduser, /);
    assert.ok(depends.includes(`nodejs (>= ${major}), nodejs (<< ${major + 1}~)`), depends);
    assert.match(depends, /libc6 \(>= [\d.]+\)/, 'from dpkg-shlibdeps');
    assert.equal(field(hub, 'Recommends'), 'openssl');
    const entries = contents(hub);
    const paths = new Set(entries.map((e) => e.path));
    for (const p of ['/usr/bin/pi-hub', '/usr/lib/pi-hub/package.json', '/usr/lib/pi-hub/dist/broker/cli.js', '/usr/lib/pi-hub/modules/core.json',
      '/usr/lib/pi-hub/node_modules/better-sqlite3/build/Release/better_sqlite3.node', '/usr/lib/pi-hub/node_modules/argon2/build/Release/argon2.node',
      '/usr/lib/pi-hub/node_modules/aedes/package.json', '/usr/lib/systemd/system/pi-hub.service', '/usr/share/doc/pi-hub/copyright']) {
      assert.ok(paths.has(p), `${p} missing`);
    }
    const bad = [...paths].filter((p) => /\.map$|\.d\.ts$|^\/usr\/lib\/pi-hub\/dist\/(test|bench|scripts)\/|\/node_modules\/(typescript|esbuild|@types)\/|better-sqlite3\/(deps|src)\/|\/obj(\.target)?\/|\/prebuilds\//.test(p));
    assert.deepEqual(bad, []);
    assert.ok(![...paths].some((p) => p.startsWith('/var/')), '/var/lib/pi-hub is made by postinst, owned by pi-hub');
    for (const e of entries) assert.equal(e.owner, 'root/root', e.path);
    assert.equal(entries.find((e) => e.path === '/usr/bin/pi-hub')!.mode, '-rwxr-xr-x');
  });

  test('labelled for another architecture, its native modules are refused', async () => {
    const { arch } = await builtDebs();
    const other = arch === 'arm64' ? 'amd64' : 'arm64';
    const out = mkdtempSync(join(tmpdir(), 'pifleet-deb-other-'));
    try {
      await assert.rejects(buildDebs({ outDir: out, arch: other, only: ['pi-hub'] }), new RegExp(`better_sqlite3\\.node is not built for ${other}|argon2\\.node is not built for ${other}`));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('lintian', () => {
  for (const name of ['pi-agent', 'pi-hub'] as const) {
    test(`${name}: no error, no warning that debian/${name}.lintian-overrides does not explain`, async (t) => {
      if (!needTool(t, 'lintian', 'lintian')) return;
      const debs = await builtDebs();
      const r = await exec('lintian', ['--fail-on', 'error,warning', '--no-tag-display-limit', name === 'pi-agent' ? debs.agent : debs.hub], { maxBuffer: 16 << 20 })
        .then((x) => ({ code: 0, out: x.stdout + x.stderr }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }));
      assert.equal(r.code, 0, r.out);
      // Every override says why, on the comment line above it.
      const lines = readFileSync(join(ROOT, 'debian', `${name}.lintian-overrides`), 'utf8').split('\n');
      lines.forEach((l, i) => { if (l.trim() !== '' && !l.startsWith('#')) assert.match(lines[i - 1] ?? '', /^# \S/, `override without a reason: ${l}`); });
    });
  }
});
