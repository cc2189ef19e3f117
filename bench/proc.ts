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

/** A CPU meter over a window for this process and a broker: call `stop()` for both percentages. */
export function startCpuWindow(brokerPid: number): { stop(): { generatorPct: number; brokerPct: number; brokerCpuS: number; wallS: number } } {
  const t0 = performance.now();
  const self0 = process.cpuUsage();
  const broker0 = cpuSeconds(brokerPid);
  return {
    stop() {
      const wallS = (performance.now() - t0) / 1000;
      const self = process.cpuUsage(self0);
      const brokerCpuS = cpuSeconds(brokerPid) - broker0;
      return {
        wallS,
        generatorPct: ((self.user + self.system) / 1e6 / wallS) * 100,
        brokerPct: (brokerCpuS / wallS) * 100,
        brokerCpuS,
      };
    },
  };
}

/** Waits until the broker is idle (under 5% CPU over 200 ms), at most `maxMs`: leftovers of one point must not load the next. */
export async function settle(pid: number, maxMs = 3000): Promise<void> {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    const c0 = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 200));
    const used = cpuSeconds(pid) - c0;
    if (!(used > 0.01)) return;
  }
}
