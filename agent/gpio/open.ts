// Finds out what this machine offers (the facts select.ts decides on) and opens the chosen driver. A
// driver that cannot be used is one log line at start and no GPIO; the rest of the agent goes on.
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { GpioDriver } from './driver.js';
import { PigpioDriver, loadPigpio } from './pigpio.js';
import { type DriverFacts, type DriverSetting, chooseDriver } from './select.js';
import { SimDriver } from './sim.js';
import { SYSFS_GPIO_ROOT, SysfsDriver, findSocChip } from './sysfs.js';

export interface OpenOptions {
  setting: DriverSetting;
  sim: boolean;
  /** The sim driver's input directory (<state-dir>/gpio-sim). */
  simDir: string;
  log: Logger;
}

export type Opened = { ok: true; driver: GpioDriver; why: string } | { ok: false; reason: string };

function model(): string {
  for (const f of ['/proc/device-tree/model', '/sys/firmware/devicetree/base/model']) {
    try { return readFileSync(f, 'utf8').replace(/\0/g, '').trim(); } catch { /* next */ }
  }
  return '';
}

export async function probeFacts(sim: boolean, root = SYSFS_GPIO_ROOT): Promise<DriverFacts> {
  if (sim) return { sim, pi5: false, sysfs: { ok: false, reason: 'not probed' }, pigpio: { ok: false, reason: 'not probed' } };
  const chip = findSocChip(root);
  const pi5 = /Raspberry Pi 5/.test(model()) || (chip.ok && chip.chip.label === 'pinctrl-rp1');
  let sysfs: DriverFacts['sysfs'] = chip.ok ? { ok: true } : { ok: false, reason: chip.reason };
  if (chip.ok && process.getuid?.() !== 0) {
    try { accessSync(join(root, 'export'), constants.W_OK); } catch (err) { sysfs = { ok: false, reason: `cannot use ${root}/export: ${(err as NodeJS.ErrnoException).code}` }; }
  }
  let pigpio: DriverFacts['pigpio'] = { ok: false, reason: 'not probed on a Raspberry Pi 5' };
  if (!pi5) {
    const loaded = await loadPigpio();
    pigpio = !loaded.ok ? loaded : process.getuid?.() === 0 ? { ok: true } : { ok: false, reason: 'needs root' };
  }
  return { sim, pi5, sysfs, pigpio };
}

export async function openDriver(o: OpenOptions): Promise<Opened> {
  const facts = await probeFacts(o.sim);
  const choice = chooseDriver(o.sim ? 'sim' : o.setting, facts);
  if (!choice.ok) return choice;
  try {
    return { ok: true, driver: await open(choice.driver, o), why: choice.why };
  } catch (err) {
    const reason = `${choice.driver}: ${(err as Error).message}`;
    // pigpio fails at initialisation when another process (pigpiod) holds the hardware: sysfs still works.
    if (o.setting === 'auto' && choice.driver === 'pigpio' && facts.sysfs.ok) {
      o.log.warn('pigpio could not start; using sysfs', { reason });
      return { ok: true, driver: await open('sysfs', o), why: 'pigpio could not start' };
    }
    return { ok: false, reason };
  }
}

async function open(name: GpioDriver['name'], o: OpenOptions): Promise<GpioDriver> {
  switch (name) {
    case 'sim': {
      const d = new SimDriver(o.simDir, o.log);
      d.open();
      return d;
    }
    case 'sysfs': {
      const chip = findSocChip();
      if (!chip.ok) throw new Error(chip.reason);
      return new SysfsDriver(chip.chip, SYSFS_GPIO_ROOT, undefined, (m) => o.log.warn(m));
    }
    case 'pigpio': {
      const lib = await loadPigpio();
      if (!lib.ok) throw new Error(lib.reason);
      const d = new PigpioDriver(lib.module);
      d.open();
      return d;
    }
  }
}
