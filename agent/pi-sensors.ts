// Raspberry Pi extras, read cheaply: temperature from /sys/class/thermal, the model from the device
// tree, throttling from `vcgencmd get_throttled`. A missing sensor is null, never an exception.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Throttled } from '../shared/schemas.js';

/** Decodes `vcgencmd get_throttled` (Raspberry Pi documentation, "get_throttled"). */
export function decodeThrottled(raw: number): Throttled {
  const bit = (n: number) => (raw & (1 << n)) !== 0;
  return {
    raw,
    underVoltageNow: bit(0),
    freqCappedNow: bit(1),
    throttledNow: bit(2),
    softTempLimitNow: bit(3),
    underVoltageEver: bit(16),
    freqCappedEver: bit(17),
    throttledEver: bit(18),
    softTempLimitEver: bit(19),
  };
}

/** Parses `throttled=0x50005`; null when the output is not that. */
export function parseThrottledOutput(out: string): number | null {
  const m = /throttled=(0x[0-9a-fA-F]+)/.exec(out);
  return m ? Number.parseInt(m[1]!.slice(2), 16) : null;
}

export interface SensorPaths {
  thermal: string;
  model: string;
  vcgencmd: string;
}
export const DEFAULT_SENSOR_PATHS: SensorPaths = {
  thermal: '/sys/class/thermal/thermal_zone0/temp',
  model: '/sys/firmware/devicetree/base/model',
  vcgencmd: '/usr/bin/vcgencmd',
};

export async function readTemperatureC(paths: SensorPaths = DEFAULT_SENSOR_PATHS): Promise<number | null> {
  try {
    const milli = Number.parseInt((await readFile(paths.thermal, 'utf8')).trim(), 10);
    return Number.isFinite(milli) ? Math.round(milli / 100) / 10 : null;
  } catch {
    return null;
  }
}

export async function readModel(paths: SensorPaths = DEFAULT_SENSOR_PATHS): Promise<string | null> {
  try {
    // The device tree strings end with NUL.
    return (await readFile(paths.model, 'utf8')).replace(/\0/g, '').trim() || null;
  } catch {
    return null;
  }
}

let vcgencmdMissing = false;

export function readThrottled(paths: SensorPaths = DEFAULT_SENSOR_PATHS): Promise<Throttled | null> {
  if (vcgencmdMissing) return Promise.resolve(null);
  return new Promise((resolve) => {
    execFile(paths.vcgencmd, ['get_throttled'], { timeout: 2000, env: {} }, (err, stdout) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') vcgencmdMissing = true; // not a Pi: stop asking
        resolve(null);
        return;
      }
      const raw = parseThrottledOutput(stdout);
      resolve(raw === null ? null : decodeThrottled(raw));
    });
  });
}
