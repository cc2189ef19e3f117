// The shipped units parse (systemd-analyze verify, with ExecStart pointed at a program that exists
// here), keep the promises the daemons rely on, and say why each sandboxing option they leave off is
// off: every option systemd-analyze security counts against a unit is named in its comments.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../../helpers/process.js';

const run = promisify(execFile);
const UNITS = ['pi-agent', 'pi-hub', 'pi-agent-update'];

/** The unit as a file here, its program replaced by one that exists on this machine. */
async function withUnit<T>(unit: string, fn: (file: string, text: string) => Promise<T>): Promise<T> {
  const text = readFileSync(join(ROOT, 'systemd', `${unit}.service`), 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-unit-'));
  try {
    const file = join(dir, `${unit}.service`);
    writeFileSync(file, text.replaceAll(`/usr/bin/${unit} `, `${process.execPath} `));
    return await fn(file, text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const unit of UNITS) {
  test(`systemd/${unit}.service verifies`, async () => {
    await withUnit(unit, async (file, text) => {
      const r = await run('systemd-analyze', ['verify', '--man=no', file]).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(text, /^MemoryDenyWriteExecute=yes/m, 'breaks V8');
      if (unit === 'pi-agent') {
        assert.match(text, /^RestartPreventExitStatus=78$/m, 'exit 78 (bad configuration) must stop the restart loop');
        assert.match(text, /^Type=notify$/m);
        assert.match(text, /^WatchdogSec=/m);
        assert.match(text, /^KillMode=mixed$/m);
        assert.doesNotMatch(text, /^ProtectKernelTunables=yes/m, 'the sysfs GPIO driver writes /sys/class/gpio');
        assert.doesNotMatch(text, /^PrivateDevices=yes/m, 'would hide /dev/gpiochip*');
        assert.match(text, /^ExecStart=\/usr\/bin\/node --jitless --no-expose-wasm \/usr\/lib\/pi-agent\/pi-agent\.mjs run$/m, 'the bundle, in the interpreter alone');
      } else if (unit === 'pi-hub') {
        assert.match(text, /^RestartPreventExitStatus=78$/m);
        assert.match(text, /^User=pi-hub$/m);
        assert.match(text, /^NoNewPrivileges=yes$/m);
        assert.match(text, /^ProtectSystem=strict$/m);
        assert.match(text, /^ExecStart=\/usr\/bin\/node --heap-growing-percent=\d+ \/usr\/lib\/pi-hub\/dist\/broker\/cli\.js serve$/m, "the hub's CLI as the wrapper runs it, with the GC's room");
      } else {
        // The update runs apt outside pi-agent.service, and core.json's update starts exactly this unit.
        assert.match(text, /^Type=oneshot$/m);
        assert.match(text, /^ExecStart=\/usr\/bin\/apt-get install --only-upgrade -y .*--force-confold pi-agent$/m);
        const core = JSON.parse(readFileSync(join(ROOT, 'modules', 'core.json'), 'utf8')) as { commands: { update: { run: string[] } } };
        assert.deepEqual(core.commands.update.run, ['/usr/bin/systemctl', 'start', '--no-block', 'pi-agent-update.service']);
      }
    });
  });
}

for (const unit of ['pi-agent', 'pi-hub']) {
  test(`systemd/${unit}.service says why each sandboxing option it leaves off is off`, async () => {
    await withUnit(unit, async (file, text) => {
      const { stdout } = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', file]).catch((e: { stdout: string }) => e);
      const exposed = [...stdout.matchAll(/^✗ (\S+)/gm)].map((m) => m[1]!);
      assert.ok(exposed.length > 0, stdout);
      const comments = text.split('\n').filter((l) => l.startsWith('#')).join('\n');
      const unexplained = exposed.filter((o) => !o.split('/').some((alt) => comments.includes(alt.replace(/=.*$/, '='))));
      assert.deepEqual(unexplained, [], `not named in a comment of systemd/${unit}.service`);
    });
  });
}
