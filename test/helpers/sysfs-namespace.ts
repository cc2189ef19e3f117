// Run as root inside a private mount namespace (`unshare --mount --propagation private`) by
// test/integration/agent/gpio/sysfs.test.ts: a tmpfs over /sys/class holding a gpio/ tree laid out like
// a Pi 4 or a Pi 5 (kernel 6.6 numbering), a stand-in for the kernel that answers export, unexport and
// direction writes, and the sysfs driver at work on it. Prints what the "kernel" saw, as JSON.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeFacts } from '../../agent/gpio/open.js';
import { SoftPwm } from '../../agent/gpio/soft-pwm.js';
import { SYSFS_GPIO_ROOT, SysfsDriver, findSocChip } from '../../agent/gpio/sysfs.js';

const LAYOUTS: Record<string, Array<{ chip: string; label: string; base: number; ngpio: number }>> = {
  // Raspberry Pi OS, kernel 6.6: the SoC's controller at 512, the firmware's expander after it.
  pi4: [{ chip: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 }, { chip: 'gpiochip570', label: 'raspberrypi-exp-gpio', base: 570, ngpio: 8 }],
  // The Pi 5: the BCM2712's own controllers first, the header on RP1 at 571.
  pi5: [
    { chip: 'gpiochip512', label: 'gpio-brcmstb@107d508500', base: 512, ngpio: 32 },
    { chip: 'gpiochip544', label: 'pinctrl-bcm2712', base: 544, ngpio: 27 },
    { chip: 'gpiochip571', label: 'pinctrl-rp1', base: 571, ngpio: 54 },
  ],
  none: [{ chip: 'gpiochip0', label: 'some-other-controller', base: 0, ngpio: 16 }],
};

const layout = LAYOUTS[process.argv[2] ?? ''];
if (!layout) throw new Error(`usage: sysfs-namespace.js ${Object.keys(LAYOUTS).join('|')}`);
execFileSync('mount', ['-t', 'tmpfs', 'pifleet-test', '/sys/class']);

const root = SYSFS_GPIO_ROOT;
mkdirSync(root);
writeFileSync(join(root, 'export'), '');
writeFileSync(join(root, 'unexport'), '');
for (const c of layout) {
  mkdirSync(join(root, c.chip));
  for (const [f, v] of Object.entries({ label: c.label, base: c.base, ngpio: c.ngpio })) writeFileSync(join(root, c.chip, f), `${v}\n`);
}

// The kernel's part, polled: what was written to unexport, export, direction and value (unexport first:
// the driver may give a pin back and export the next one between two polls).
const seen: string[] = [];
const values = new Map<string, string>();
const dirs = new Map<string, string>();
let recordValues = true;
const read = (f: string) => { try { return readFileSync(f, 'utf8').trim(); } catch { return null; } };
function kernel(): void {
  const unexp = read(join(root, 'unexport'));
  if (unexp) {
    writeFileSync(join(root, 'unexport'), '');
    seen.push(`unexport ${unexp}`);
    rmSync(join(root, `gpio${unexp}`), { recursive: true, force: true });
  }
  const exp = read(join(root, 'export'));
  if (exp) {
    writeFileSync(join(root, 'export'), '');
    seen.push(`export ${exp}`);
    const tmp = join(root, `.new${exp}`);
    mkdirSync(tmp);
    for (const [f, v] of Object.entries({ direction: 'in', value: '0', edge: 'none', active_low: '0' })) writeFileSync(join(tmp, f), v);
    renameSync(tmp, join(root, `gpio${exp}`)); // all files at once, as udev would make them usable
  }
  for (const name of readdirSync(root).filter((n) => /^gpio\d+$/.test(n))) {
    const n = name.slice(4);
    const dir = read(join(root, name, 'direction'));
    if (dir !== null && dirs.get(n) !== dir && (dirs.has(n) || dir !== 'in')) seen.push(`direction ${n} ${dir}`);
    if (dir === 'high' || dir === 'low') {
      writeFileSync(join(root, name, 'direction'), 'out');
      writeFileSync(join(root, name, 'value'), dir === 'high' ? '1' : '0');
      dirs.set(n, 'out');
    } else if (dir !== null) dirs.set(n, dir);
    const v = read(join(root, name, 'value'));
    if (v !== null && values.get(n) !== v) {
      if (values.has(n) && recordValues) seen.push(`value ${n} ${v}`);
      values.set(n, v);
    }
  }
}
const timer = setInterval(kernel, 1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const result: Record<string, unknown> = { chip: findSocChip(), facts: await probeFacts(false) };
const chip = findSocChip();
if (chip.ok) {
  const warnings: string[] = [];
  const d = new SysfsDriver(chip.chip, root, async () => null, (m) => warnings.push(m));
  await d.output(17, 1);
  await sleep(30);
  await d.output(17, 0);
  await sleep(30);
  const changes: number[] = [];
  result.inputAtStart = await d.input(27, { pull: 'up', onChange: (l) => changes.push(l) });
  const inputDir = join(root, `gpio${chip.chip.base + 27}`);
  result.inputDirection = read(join(inputDir, 'direction'));
  writeFileSync(join(inputDir, 'value'), '1');
  await sleep(60);
  result.changes = changes;
  await d.release(27);
  await sleep(20);
  result.inputGone = !existsSync(inputDir);

  // The software PWM's worker writes base + BCM too.
  await d.output(18, 0);
  await sleep(20);
  recordValues = false;
  const errors: string[] = [];
  const pwm = new SoftPwm(d.pwmSink, (bcm, m) => errors.push(`${bcm}: ${m}`));
  pwm.start(18, 0.5, 200);
  let edges = 0;
  for (let waited = 0; edges < 40 && waited < 5_000; waited += 50) { // a worker's start-up included
    await sleep(50);
    edges += pwm.edges().length;
  }
  pwm.stop(18);
  await pwm.close();
  result.pwmEdges = edges;
  result.pwmErrors = errors;
  await d.close();
  await sleep(20);
  result.warnings = warnings;
}
clearInterval(timer);
kernel();
result.seen = seen;
result.gpioDirs = readdirSync(root).filter((n) => /^gpio\d+$/.test(n)).sort();
process.stdout.write(`${JSON.stringify(result)}\n`);
