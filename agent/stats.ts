// Stats sampling (docs/ARCHITECTURE.md `devices/<serial>/stats`): on Linux straight from /proc (CPU
// load, memory, mounts, network counters; parsed in proc-parse.ts) and statfs(2), the Pi extras
// (temperature, throttling) from pi-sensors. A missing sensor or file is null or left out, never a crash.
// systeminformation, which gave the same figures through shell commands (df, cat) and cost the daemon
// about 1 MB (docs/BENCHMARKING.md), is only loaded elsewhere than Linux, where no Pi runs.
import { readFile, statfs } from 'node:fs/promises';
import { networkInterfaces, uptime } from 'node:os';
import type { Stats } from '../shared/schemas.js';
import { type CpuTimes, cpuLoad, diskUsage, parseMeminfo, parseMountinfo, parseNetDev, parseProcStat } from './proc-parse.js';
import { DEFAULT_SENSOR_PATHS, type SensorPaths, readTemperatureC, readThrottled } from './pi-sensors.js';

export interface StatsSampler { sample(): Promise<Stats> }

const STATFS_TIMEOUT_MS = 2_000;

export interface ProcPaths { stat: string; meminfo: string; mountinfo: string; netDev: string }
export const DEFAULT_PROC_PATHS: ProcPaths = {
  stat: '/proc/stat', meminfo: '/proc/meminfo', mountinfo: '/proc/self/mountinfo', netDev: '/proc/net/dev',
};

export interface SystemStatsOptions {
  proc?: ProcPaths;
  sensors?: SensorPaths;
  /** The interfaces to report, in order: those with an address, as systeminformation listed them. */
  interfaces?: () => string[];
  statfs?: (path: string) => Promise<{ bsize: number; blocks: number; bfree: number }>;
}

/** The stats of this Linux system; elsewhere `systemStatsSampler()` gives systeminformation's. */
export class ProcStatsSampler implements StatsSampler {
  private cpuBefore: CpuTimes | null = null;
  /** Mounts whose statfs has not returned yet (a hung network mount): not asked again until it does. */
  private readonly pending = new Set<string>();

  constructor(private readonly o: SystemStatsOptions = {}) {}

  async sample(): Promise<Stats> {
    const p = this.o.proc ?? DEFAULT_PROC_PATHS;
    const sensors = this.o.sensors ?? DEFAULT_SENSOR_PATHS;
    const read = (path: string) => readFile(path, 'utf8').then((t) => t, () => null);
    const [stat, meminfo, disk, netDev, tempC, throttled] = await Promise.all([
      read(p.stat), read(p.meminfo), this.disks(p.mountinfo), read(p.netDev), readTemperatureC(sensors), readThrottled(sensors),
    ]);
    const cpu = stat === null ? null : parseProcStat(stat);
    const load = cpu ? cpuLoad(this.cpuBefore, cpu) : 0;
    if (cpu) this.cpuBefore = cpu;
    const mem = meminfo === null ? null : parseMeminfo(meminfo);
    const counters = netDev === null ? new Map<string, { rxBytes: number; txBytes: number }>() : parseNetDev(netDev);
    const ifaces = (this.o.interfaces ?? (() => Object.keys(networkInterfaces())))();
    return {
      v: 1,
      ts: Date.now(),
      cpu: { load: round(load), tempC },
      mem: mem ?? { total: 0, used: 0 },
      disk: disk.filter((d) => d.size > 0).slice(0, 64),
      net: ifaces.filter((i) => i !== 'lo' && counters.has(i)).slice(0, 64)
        .map((i) => ({ iface: i.slice(0, 64), ...counters.get(i)! })),
      uptimeSec: Math.round(uptime()),
      throttled,
    };
  }

  /**
   * Each mount's usage; one that does not answer within STATFS_TIMEOUT_MS (a network mount whose
   * server is gone) is left out of this sample and not asked again until its statfs returns, so it
   * holds up neither the stats nor more than one of libuv's threads.
   */
  private async disks(mountinfo: string): Promise<Array<{ mount: string; size: number; used: number }>> {
    const text = await readFile(mountinfo, 'utf8').catch(() => '');
    const statOf = this.o.statfs ?? ((path: string) => statfs(path));
    const usage = await Promise.all(parseMountinfo(text).map((m) => {
      if (this.pending.has(m.mount)) return null;
      this.pending.add(m.mount);
      const asked = statOf(m.mount).finally(() => this.pending.delete(m.mount));
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        asked.then((s) => ({ mount: m.mount.slice(0, 256), ...diskUsage(s) }), () => null), // gone since, or not ours to read
        new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), STATFS_TIMEOUT_MS); }),
      ]).finally(() => clearTimeout(timer));
    }));
    return usage.filter((u) => u !== null);
  }
}

/** The sampler for this system: /proc on Linux, systeminformation (loaded now) elsewhere. */
export async function systemStatsSampler(): Promise<StatsSampler> {
  if (process.platform === 'linux') return new ProcStatsSampler();
  const { SiStatsSampler } = await import('./stats-si.js');
  return new SiStatsSampler();
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
