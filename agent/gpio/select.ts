// Which GPIO driver to use, from what the probes found (probe.ts): pure, so every rule is a table row
// in a test. pigpio is never chosen on a Pi 5: it refuses to run there by design (pigpio #586, #589).
import type { DriverName } from './driver.js';

export type DriverSetting = 'auto' | DriverName;

/** A probe's finding: usable, or why not (one line, for the log). */
export type Finding = { ok: true } | { ok: false; reason: string };

export interface DriverFacts {
  /** `pi-agent run --sim`: no hardware, whatever agent.json says. */
  sim: boolean;
  /** A Raspberry Pi 5 (the device tree's model, or the RP1 pin controller in sysfs). */
  pi5: boolean;
  /** /sys/class/gpio with a known SoC pin controller chip, writable. */
  sysfs: Finding;
  /** The pigpio package loads, and we are root. */
  pigpio: Finding;
}

export type DriverChoice = { ok: true; driver: DriverName; why: string } | { ok: false; reason: string };

export function chooseDriver(setting: DriverSetting, f: DriverFacts): DriverChoice {
  if (f.sim) return { ok: true, driver: 'sim', why: '--sim' };
  const pigpio = (): DriverChoice => {
    if (f.pi5) return { ok: false, reason: 'pigpio does not run on a Raspberry Pi 5; use "gpioDriver": "sysfs" (or "auto")' };
    return f.pigpio.ok ? { ok: true, driver: 'pigpio', why: 'hardware-timed PWM' } : { ok: false, reason: `pigpio: ${f.pigpio.reason}` };
  };
  const sysfs = (): DriverChoice => f.sysfs.ok ? { ok: true, driver: 'sysfs', why: 'the kernel\'s sysfs GPIO' } : { ok: false, reason: `sysfs: ${f.sysfs.reason}` };
  switch (setting) {
    case 'sim': return { ok: true, driver: 'sim', why: 'agent.json gpioDriver' };
    case 'pigpio': return pigpio();
    case 'sysfs': return sysfs();
    case 'auto': {
      const p = pigpio();
      if (p.ok) return p;
      const s = sysfs();
      if (s.ok) return f.pi5 ? { ...s, why: 'a Raspberry Pi 5 (pigpio does not run there)' } : s;
      return { ok: false, reason: f.pi5 ? s.reason : `${s.reason}; ${p.ok ? '' : p.reason}` };
    }
  }
}
