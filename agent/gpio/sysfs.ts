// The sysfs driver: /sys/class/gpio, on every Pi including the Pi 5. Since kernel 6.6 a pin's sysfs
// number is not its BCM number (raspberrypi/linux #6084): the SoC pin controller's chip has its own
// base (512 on a Pi 4, 571 on a Pi 5 with RP1), so the driver finds that chip by its label and exports
// base + BCM. sysfs has no pull resistors: those go through `pinctrl` (or the older `raspi-gpio`) when
// installed. Inputs are sampled every few milliseconds (fine for buttons and switches, not for counting
// short pulses). `root` is a parameter so tests can point the driver at an emulated tree.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { FreqRange, GpioDriver, InputWatch, Level, Pull, PwmSink } from './driver.js';

export const SYSFS_GPIO_ROOT = '/sys/class/gpio';
/** In order of preference: the Pi 5's header is on RP1 (its BCM2712 has a chip of its own as well). */
export const SOC_CHIP_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'] as const;
const SAMPLE_MS = 5;
const EXPORT_TIMEOUT_MS = 2_000;

export interface ChipInfo { chip: string; label: string; base: number; ngpio: number }

/** The SoC pin controller's chip under `root`, or why there is none. */
export function findSocChip(root = SYSFS_GPIO_ROOT): { ok: true; chip: ChipInfo } | { ok: false; reason: string } {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => /^gpiochip\d+$/.test(n));
  } catch (err) {
    return { ok: false, reason: `${root} is missing (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): a kernel without sysfs GPIO` };
  }
  const chips: ChipInfo[] = [];
  for (const chip of names) {
    try {
      const read = (f: string) => readFileSync(join(root, chip, f), 'utf8').trim();
      chips.push({ chip, label: read('label'), base: Number(read('base')), ngpio: Number(read('ngpio')) });
    } catch { /* a chip we cannot read is not ours */ }
  }
  for (const label of SOC_CHIP_LABELS) {
    const c = chips.find((x) => x.label === label && Number.isInteger(x.base) && x.ngpio >= 28);
    if (c) return { ok: true, chip: c };
  }
  return { ok: false, reason: `no SoC pin controller (${SOC_CHIP_LABELS.join(', ')}) among ${chips.map((c) => c.label).join(', ') || 'no chips'} in ${root}` };
}

export type PullSetter = (bcm: number, pull: Pull) => Promise<string | null>;

/** Sets a pull with pinctrl (Raspberry Pi OS bookworm) or raspi-gpio; returns a warning when it could not. */
export const setPullWithTools: PullSetter = async (bcm, pull) => {
  const arg = { up: 'pu', down: 'pd', none: 'pn' }[pull];
  for (const tool of ['/usr/bin/pinctrl', '/usr/bin/raspi-gpio']) {
    if (!existsSync(tool)) continue;
    const err = await new Promise<Error | null>((resolve) => execFile(tool, ['set', String(bcm), arg], { timeout: 5_000 }, (e) => resolve(e)));
    return err ? `${tool} set ${bcm} ${arg} failed: ${err.message}` : null;
  }
  return pull === 'none' ? null : `neither pinctrl nor raspi-gpio is installed: set the pull in config.txt instead (gpio=${bcm}=ip,${arg})`;
};

interface Line { fd: number; direction: 'in' | 'out'; sampler: NodeJS.Timeout | null }

export class SysfsDriver implements GpioDriver {
  readonly name = 'sysfs' as const;
  readonly pwmSink: PwmSink;
  private readonly lines = new Map<number, Line>();
  private readonly buf = Buffer.alloc(1);

  constructor(
    readonly chip: ChipInfo,
    private readonly root = SYSFS_GPIO_ROOT,
    private readonly setPull: PullSetter = setPullWithTools,
    private readonly warn: (message: string) => void = () => {},
  ) {
    this.pwmSink = { kind: 'sysfs', root, base: chip.base };
  }

  /** The kernel's number for a BCM pin: never the BCM number itself on a current kernel. */
  sysfsNumber(bcm: number): number {
    return this.chip.base + bcm;
  }

  async output(bcm: number, level: Level): Promise<void> {
    const line = await this.line(bcm);
    this.stopSampling(line);
    if (line.direction !== 'out') {
      // "high"/"low" make it an output already at that level: no glitch through the other one.
      writeFileSync(join(this.dir(bcm), 'direction'), level ? 'high' : 'low');
      line.direction = 'out';
    } else {
      writeSync(line.fd, level ? '1' : '0', 0);
    }
  }

  async input(bcm: number, watch: InputWatch): Promise<Level> {
    const line = await this.line(bcm);
    if (line.direction !== 'in') {
      writeFileSync(join(this.dir(bcm), 'direction'), 'in');
      line.direction = 'in';
    }
    const problem = await this.setPull(bcm, watch.pull);
    if (problem) this.warn(`pin ${bcm}: ${problem}`);
    this.stopSampling(line);
    let last = this.read(line);
    line.sampler = setInterval(() => {
      let now: Level;
      try { now = this.read(line); } catch { return; }
      if (now !== last) { last = now; watch.onChange(now); }
    }, SAMPLE_MS);
    line.sampler.unref();
    return last;
  }

  hardwarePwm(): FreqRange | null {
    return null;
  }

  pwm(): Promise<number> {
    return Promise.reject(new Error('sysfs has no PWM: the agent makes it in software'));
  }

  async release(bcm: number): Promise<void> {
    const line = this.lines.get(bcm);
    if (!line) return;
    this.stopSampling(line);
    closeSync(line.fd);
    this.lines.delete(bcm);
    // An input is given back; an output stays exported so it keeps its (safe) level.
    if (line.direction === 'in') {
      try { writeFileSync(join(this.root, 'unexport'), String(this.sysfsNumber(bcm))); } catch { /* gone already */ }
    }
  }

  async close(): Promise<void> {
    for (const bcm of [...this.lines.keys()]) await this.release(bcm);
  }

  private dir(bcm: number): string {
    return join(this.root, `gpio${this.sysfsNumber(bcm)}`);
  }

  private read(line: Line): Level {
    readSync(line.fd, this.buf, 0, 1, 0);
    return this.buf[0] === 0x31 ? 1 : 0;
  }

  private stopSampling(line: Line): void {
    if (line.sampler) clearInterval(line.sampler);
    line.sampler = null;
  }

  /** Exports the pin if needed and opens its value file; waits for udev to make the files usable. */
  private async line(bcm: number): Promise<Line> {
    const have = this.lines.get(bcm);
    if (have) return have;
    if (bcm < 0 || bcm >= this.chip.ngpio) throw new Error(`BCM ${bcm} is not on ${this.chip.label}`);
    const dir = this.dir(bcm);
    if (!existsSync(dir)) writeFileSync(join(this.root, 'export'), String(this.sysfsNumber(bcm)));
    const deadline = Date.now() + EXPORT_TIMEOUT_MS;
    for (;;) {
      try {
        const direction = readFileSync(join(dir, 'direction'), 'utf8').trim() === 'out' ? 'out' : 'in';
        const fd = openSync(join(dir, 'value'), 'r+');
        const line: Line = { fd, direction, sampler: null };
        this.lines.set(bcm, line);
        return line;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`exported ${this.sysfsNumber(bcm)} (BCM ${bcm}) but ${dir} did not become usable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }
}
