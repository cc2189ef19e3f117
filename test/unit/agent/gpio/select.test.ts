// Driver selection from fake probes (agent/gpio/select.ts): one row per rule.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type DriverFacts, type DriverSetting, chooseDriver } from '../../../../agent/gpio/select.js';

const OK = { ok: true } as const;
const NO = (reason: string) => ({ ok: false, reason }) as const;
const facts = (f: Partial<DriverFacts>): DriverFacts => ({ sim: false, pi5: false, sysfs: OK, pigpio: OK, ...f });

const rows: Array<[string, DriverSetting, Partial<DriverFacts>, string]> = [
  ['--sim wins over everything', 'pigpio', { sim: true }, 'sim'],
  ['sim by setting', 'sim', {}, 'sim'],
  ['auto on a Pi 4 with pigpio: pigpio', 'auto', {}, 'pigpio'],
  ['auto on a Pi 4 without pigpio: sysfs', 'auto', { pigpio: NO('not installed') }, 'sysfs'],
  ['auto on a Pi 5: sysfs even with pigpio installed', 'auto', { pi5: true }, 'sysfs'],
  ['sysfs by setting, even where pigpio works', 'sysfs', {}, 'sysfs'],
  ['pigpio by setting on a Pi 5: refused', 'pigpio', { pi5: true }, 'error: pigpio does not run on a Raspberry Pi 5; use "gpioDriver": "sysfs" (or "auto")'],
  ['pigpio by setting, not installed', 'pigpio', { pigpio: NO('not installed') }, 'error: pigpio: not installed'],
  ['sysfs by setting, no sysfs', 'sysfs', { sysfs: NO('/sys/class/gpio is missing') }, 'error: sysfs: /sys/class/gpio is missing'],
  ['auto, nothing usable: both reasons', 'auto', { sysfs: NO('no chip'), pigpio: NO('needs root') }, 'error: sysfs: no chip; pigpio: needs root'],
  ['auto on a Pi 5 without sysfs: no pigpio fallback', 'auto', { pi5: true, sysfs: NO('no chip') }, 'error: sysfs: no chip'],
];

describe('chooseDriver', () => {
  for (const [name, setting, f, want] of rows) {
    test(name, () => {
      const c = chooseDriver(setting, facts(f));
      assert.equal(c.ok ? c.driver : `error: ${c.reason}`, want);
    });
  }
});
