// Stats sampling (docs/ARCHITECTURE.md `devices/<serial>/stats`): systeminformation for CPU load, memory,
// disks and network; the Pi extras (temperature, throttling) from pi-sensors. A missing sensor is
// null, never a crash. systeminformation is loaded lazily, on the first sample: it is the agent's
// largest dependency and `pi-agent status` or `connect` never need it.
import { uptime } from 'node:os';
import type { Stats } from '../shared/schemas.js';
import { isPseudoFilesystem } from './filesystems.js';
import { readTemperatureC, readThrottled } from './pi-sensors.js';

export interface StatsSampler { sample(): Promise<Stats> }


type Si = Pick<typeof import('systeminformation'), 'currentLoad' | 'mem' | 'fsSize' | 'networkStats'>;

/**
 * Only the four parts of systeminformation the stats use: its index loads all twenty (docker, printers,
 * bluetooth, …), a third of the packaged agent's code and heap for nothing.
 */
async function loadSi(): Promise<Si> {
  const [cpu, memory, filesystem, network] = await Promise.all([
    import('systeminformation/lib/cpu.js'), import('systeminformation/lib/memory.js'),
    import('systeminformation/lib/filesystem.js'), import('systeminformation/lib/network.js'),
  ]);
  return { currentLoad: cpu.default.currentLoad, mem: memory.default.mem, fsSize: filesystem.default.fsSize, networkStats: network.default.networkStats };
}

export class SystemStatsSampler implements StatsSampler {
  private si: Si | null = null;

  private async lib(): Promise<Si> {
    this.si ??= await loadSi();
    return this.si;
  }

  async sample(): Promise<Stats> {
    const si = await this.lib();
    const settle = <T>(p: Promise<T>) => p.then((v) => v, () => null);
    const [load, mem, fs, net, tempC, throttled] = await Promise.all([
      settle(si.currentLoad()), settle(si.mem()), settle(si.fsSize()), settle(si.networkStats('*')),
      readTemperatureC(), readThrottled(),
    ]);
    return {
      v: 1,
      ts: Date.now(),
      cpu: { load: round(load?.currentLoad ?? 0), tempC },
      // "used" without buffers and page cache: what `free` calls used, the number that runs out.
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

/** `--sim`: a plausible Pi 4 that needs no hardware (the demo, tests). */
export class SimStatsSampler implements StatsSampler {
  private readonly started = Date.now();
  private rx = 0;
  private tx = 0;

  async sample(): Promise<Stats> {
    const t = (Date.now() - this.started) / 1000;
    this.rx += 20_000 + Math.round(Math.random() * 5_000);
    this.tx += 8_000 + Math.round(Math.random() * 2_000);
    const load = 15 + 10 * Math.sin(t / 30) + Math.random() * 5;
    return {
      v: 1,
      ts: Date.now(),
      cpu: { load: round(load), tempC: round(45 + load / 5) },
      mem: { total: 4_096 * 2 ** 20, used: Math.round((900 + 50 * Math.sin(t / 60)) * 2 ** 20) },
      disk: [{ mount: '/', size: 31_000_000_000, used: 6_200_000_000 }],
      net: [{ iface: 'wlan0', rxBytes: this.rx, txBytes: this.tx }],
      uptimeSec: Math.round(t),
      throttled: { raw: 0, underVoltageNow: false, freqCappedNow: false, throttledNow: false, softTempLimitNow: false, underVoltageEver: false, freqCappedEver: false, throttledEver: false, softTempLimitEver: false },
    };
  }
}

const round = (n: number) => Math.round(n * 10) / 10;
