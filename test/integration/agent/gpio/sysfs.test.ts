// The sysfs driver against emulated sysfs trees laid out like a Pi 4 and a Pi 5 with kernel 6.6, in a
// private mount namespace (a tmpfs over /sys/class; needs root, as the CI runs): it must export and
// drive base + BCM (512 + 17 on a Pi 4, 571 + 17 on a Pi 5), never the BCM number itself.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { runProgram } from '../../../helpers/process.js';

const SCRIPT = fileURLToPath(new URL('../../../helpers/sysfs-namespace.js', import.meta.url));

async function inNamespace(layout: string): Promise<Record<string, unknown>> {
  const r = await runProgram('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, SCRIPT, layout], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('sysfs driver on an emulated /sys/class/gpio', { skip: process.getuid?.() !== 0 ? 'needs root for a mount namespace' : false }, () => {
  for (const [layout, label, base] of [['pi4', 'pinctrl-bcm2711', 512], ['pi5', 'pinctrl-rp1', 571]] as const) {
    test(`${layout}: finds ${label} at ${base} and writes base + BCM`, async () => {
      const r = await inNamespace(layout);
      assert.deepEqual(r.chip, { ok: true, chip: { chip: `gpiochip${base}`, label, base, ngpio: layout === 'pi4' ? 58 : 54 } });
      const facts = r.facts as { pi5: boolean; sysfs: { ok: boolean } };
      assert.equal(facts.pi5, layout === 'pi5', 'a Pi 5 is known by its RP1 controller');
      assert.equal(facts.sysfs.ok, true);
      const n = (bcm: number) => String(base + bcm);
      assert.deepEqual((r.seen as string[]).slice(0, 8), [
        `export ${n(17)}`, `direction ${n(17)} high`, `value ${n(17)} 1`, `value ${n(17)} 0`,
        `export ${n(27)}`, `value ${n(27)} 1`, `unexport ${n(27)}`,
        `export ${n(18)}`,
      ]);
      assert.equal((r.seen as string[])[8], `direction ${n(18)} low`);
      assert.ok(!(r.seen as string[]).some((s) => / (17|18|27)( |$)/.test(s)), 'never a bare BCM number');
      assert.equal(r.inputAtStart, 0);
      assert.equal(r.inputDirection, 'in');
      assert.deepEqual(r.changes, [1], 'the input change, sampled');
      assert.equal(r.inputGone, true, 'an input is unexported when let go');
      assert.deepEqual(r.pwmErrors, []);
      assert.ok((r.pwmEdges as number) >= 40, `software PWM edges written to gpio${n(18)}/value: ${String(r.pwmEdges)}`);
      assert.deepEqual(r.gpioDirs, [`gpio${n(17)}`, `gpio${n(18)}`], 'outputs stay exported at their levels');
    });
  }

  test('no SoC pin controller: sysfs is not usable, and says why', async () => {
    const r = await inNamespace('none');
    assert.equal((r.chip as { ok: boolean }).ok, false);
    assert.match((r.chip as { reason: string }).reason, /no SoC pin controller \(pinctrl-rp1, pinctrl-bcm2711, pinctrl-bcm2835\) among some-other-controller/);
    assert.equal((r.facts as { sysfs: { ok: boolean } }).sysfs.ok, false);
  });
});
