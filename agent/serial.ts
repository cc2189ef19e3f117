// This Pi's serial (docs/ARCHITECTURE.md "Identity and trust"): the device tree's serial-number, else
// `Serial` in /proc/cpuinfo, else the first 16 hex digits of /etc/machine-id.
import { readFile } from 'node:fs/promises';
import { SERIAL_RE } from '../shared/topics.js';

export interface SerialSources { deviceTree: string; cpuinfo: string; machineId: string }
export const DEFAULT_SERIAL_SOURCES: SerialSources = {
  deviceTree: '/sys/firmware/devicetree/base/serial-number',
  cpuinfo: '/proc/cpuinfo',
  machineId: '/etc/machine-id',
};

async function read(file: string): Promise<string | null> {
  try { return await readFile(file, 'utf8'); } catch { return null; }
}

/** Pure: picks the serial out of what the three sources hold (null where absent). */
export function pickSerial(deviceTree: string | null, cpuinfo: string | null, machineId: string | null): string | null {
  const dt = deviceTree?.replace(/\0/g, '').trim();
  if (dt && SERIAL_RE.test(dt) && !/^0+$/.test(dt)) return dt;
  const m = cpuinfo ? /^Serial\s*:\s*([0-9A-Za-z]+)\s*$/m.exec(cpuinfo) : null;
  if (m && !/^0+$/.test(m[1]!)) return m[1]!;
  const id = machineId?.trim().toLowerCase();
  if (id && /^[0-9a-f]{16,}$/.test(id)) return id.slice(0, 16);
  return null;
}

export async function detectSerial(src: SerialSources = DEFAULT_SERIAL_SOURCES): Promise<string | null> {
  return pickSerial(await read(src.deviceTree), await read(src.cpuinfo), await read(src.machineId));
}
