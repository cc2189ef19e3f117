// The shipped units parse (systemd-analyze verify, with ExecStart pointed at a program that exists
// here) and keep the promises the daemons rely on.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../../helpers/process.js';

const run = promisify(execFile);

for (const unit of ['pi-agent', 'pi-hub']) {
  test(`systemd/${unit}.service verifies`, async () => {
    const text = readFileSync(join(ROOT, 'systemd', `${unit}.service`), 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-unit-'));
    try {
      const file = join(dir, `${unit}.service`);
      writeFileSync(file, text.replaceAll(`/usr/bin/${unit}`, process.execPath));
      const r = await run('systemd-analyze', ['verify', file]).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.match(text, /^RestartPreventExitStatus=78$/m, 'exit 78 (bad configuration) must stop the restart loop');
    assert.doesNotMatch(text, /^MemoryDenyWriteExecute=yes/m, 'breaks V8');
    if (unit === 'pi-agent') {
      assert.match(text, /^Type=notify$/m);
      assert.match(text, /^WatchdogSec=/m);
      assert.match(text, /^KillMode=mixed$/m);
      assert.doesNotMatch(text, /^ProtectKernelTunables=yes/m, 'the sysfs GPIO driver writes /sys/class/gpio');
      assert.doesNotMatch(text, /^PrivateDevices=yes/m, 'would hide /dev/gpiochip*');
    } else {
      assert.match(text, /^User=pi-hub$/m);
      assert.match(text, /^NoNewPrivileges=yes$/m);
      assert.match(text, /^ProtectSystem=strict$/m);
    }
  });
}
