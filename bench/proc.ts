// CPU time and memory of another process, read from /proc (Linux). The broker's CPU% over a window
// is what says whether it or the generator saturated.
import { readFileSync } from 'node:fs';

const CLK_TCK = 100; // USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK)

/** utime + stime of every thread of `pid`, in seconds; NaN if the process is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of `pid` in bytes; NaN if the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds the whole machine spent busy (all CPUs, /proc/stat), steal included. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

export interface CpuWindow { generatorPct: number; brokerPct: number; otherPct: number; brokerCpuS: number; wallS: number }

/**
 * A CPU meter over a window for this process (the generator) and a broker: `stop()` gives both
 * percentages of one core, and what everything else on the machine used meanwhile (`otherPct`): the
 * machines are shared, and a busy neighbour explains a bad round.
 */
export function startCpuWindow(brokerPid: number): { stop(): CpuWindow } {
  const t0 = performance.now();
  const self0 = process.cpuUsage();
  const broker0 = cpuSeconds(brokerPid);
  const machine0 = machineBusySeconds();
  return {
    stop() {
      const wallS = (performance.now() - t0) / 1000;
      const self = process.cpuUsage(self0);
      const selfS = (self.user + self.system) / 1e6;
      const brokerCpuS = cpuSeconds(brokerPid) - broker0;
      const otherS = machineBusySeconds() - machine0 - brokerCpuS - selfS;
      return {
        wallS,
        generatorPct: (selfS / wallS) * 100,
        brokerPct: (brokerCpuS / wallS) * 100,
        otherPct: Math.max(0, (otherS / wallS) * 100),
        brokerCpuS,
      };
    },
  };
}

/**
 * Waits until the broker is idle (under 5% CPU over 200 ms) and the rest of the machine is quiet (under
 * `quietPct` of a core), at most `maxMs`: leftovers of one point must not load the next, and on a shared
 * machine a point is better started between a neighbour's bursts. Resolves with the last other-load %.
 */
export async function settle(pid: number, maxMs: number, quietPct = 25): Promise<number> {
  const end = Date.now() + maxMs;
  let otherPct = Number.NaN;
  do {
    const b0 = cpuSeconds(pid);
    const m0 = machineBusySeconds();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 250));
    const wallS = (performance.now() - t0) / 1000;
    const broker = cpuSeconds(pid) - b0;
    otherPct = ((machineBusySeconds() - m0 - broker) / wallS) * 100;
    if (!(broker / wallS > 0.05) && !(otherPct > quietPct)) break;
  } while (Date.now() < end);
  return otherPct;
}
