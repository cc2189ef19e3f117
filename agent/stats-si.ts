// Stats where there is no /proc to read (a developer's Mac): systeminformation, loaded by
// stats.ts's systemStatsSampler() only there. On a Pi, stats.ts reads /proc itself.
import { uptime } from 'node:os';
import type { Stats } from '../shared/schemas.js';
import { isPseudoFilesystem } from './filesystems.js';
import { readTemperatureC, readThrottled } from './pi-sensors.js';

type Si = Pick<typeof import('systeminformation'), 'currentLoad' | 'mem' | 'fsSize' | 'networkStats'>;

/**
 * Only the four parts of systeminformation the stats use: its index loads all twenty (docker, printers,
 * bluetooth, …).
 */
async function loadSi(): Promise<Si> {
  const [cpu, memory, filesystem, network] = await Promise.all([
    import('systeminformation/lib/cpu.js'), import('systeminformation/lib/memory.js'),
    import('systeminformation/lib/filesystem.js'), import('systeminformation/lib/network.js'),
  ]);
  return { currentLoad: cpu.default.currentLoad, mem: memory.default.mem, fsSize: filesystem.default.fsSize, networkStats: network.default.networkStats };
}

/** A StatsSampler (stats.ts; not imported, which would make a cycle). */
export class SiStatsSampler {
  private si: Si | null = null;

  async sample(): Promise<Stats> {
    this.si ??= await loadSi();
    const si = this.si;
    const settle = <T>(p: Promise<T>) => p.then((v) => v, () => null);
    const [load, mem, fs, net, tempC, throttled] = await Promise.all([
      settle(si.currentLoad()), settle(si.mem()), settle(si.fsSize()), settle(si.networkStats('*')),
      readTemperatureC(), readThrottled(),
    ]);
    return {
      v: 1,
      ts: Date.now(),
      cpu: { load: Math.round((load?.currentLoad ?? 0) * 10) / 10, tempC },
      mem: { total: mem?.total ?? 0, used: mem ? mem.total - mem.available : 0 },
      disk: (fs ?? []).filter((d) => !isPseudoFilesystem(d.type) && d.size > 0).slice(0, 64)
        .map((d) => ({ mount: d.mount.slice(0, 256), size: d.size, used: d.used })),
      net: (net ?? []).filter((n) => n.iface !== 'lo').slice(0, 64)
        .map((n) => ({ iface: n.iface.slice(0, 64), rxBytes: n.rx_bytes, txBytes: n.tx_bytes })),
      uptimeSec: Math.round(uptime()),
      throttled,
    };
  }
}
