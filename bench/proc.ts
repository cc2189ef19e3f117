// CPU time and memory of another process, read from /proc (Linux). The broker's CPU% over a window
// is what says whether it or the generator saturated.
import { readFileSync, readdirSync } from 'node:fs';

const CLK_TCK = 100; // USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK)

/** utime + stime from a `stat` file's text (a process's, or one thread's), in seconds. */
function statCpuSeconds(stat: string): number {
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
}

/** utime + stime of every thread of `pid`, in seconds; NaN if the process is gone. */
export function cpuSeconds(pid: number): number {
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds of `pid` by thread name (`/proc/PID/task/TID/stat`): the event loop's thread is the one
 * whose id is the process's, named `main`; the others are summed under their names (Node 20 names
 * V8's helpers, the garbage collector's marking and sweeping, after the process: `node`; libuv's pool
 * `libuv-worker`).
 */
export function cpuByThread(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out[name] = (out[name] ?? 0) + statCpuSeconds(stat);
    } catch { /* the thread ended meanwhile */ }
  }
  return out;
}

/** The CPU seconds of the processes that together are the broker (hub nodes and their Redis). */
export function cpuOf(pids: number[]): number {
  return pids.reduce((sum, p) => sum + cpuSeconds(p), 0);
}

/** Their resident memory, in all. */
export function rssOf(pids: number[]): number {
  return pids.reduce((sum, p) => sum + rssBytes(p), 0);
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

/**
 * Bytes the process has caused to be written to storage (`write_bytes` in /proc/PID/io: files, not
 * sockets), NaN when unreadable (another user's process without privileges).
 */
export function storageWriteBytes(pid: number): number {
  try {
    const m = /^write_bytes:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds spent busy (steal included) by the whole machine and by each CPU, from /proc/stat. */
export function busySeconds(): { all: number; perCpu: number[] } {
  const perCpu: number[] = [];
  let all = Number.NaN;
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d*)\s+(.*)$/.exec(line);
      if (!m) continue;
      const [user, nice, system, , , irq, softirq, steal] = m[2]!.split(/\s+/).map(Number);
      const busy = (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / CLK_TCK;
      if (m[1] === '') all = busy;
      else perCpu[Number(m[1])] = busy;
    }
  } catch { /* not Linux */ }
  return { all, perCpu };
}

export interface CpuWindow {
  generatorPct: number;
  brokerPct: number;
  /** Everything else on the machine, % of one core. */
  otherPct: number;
  /** How busy each CPU was, whoever ran on it: a broker starved by a neighbour on its core is saturated too. */
  corePct: number[];
  brokerCpuS: number;
  wallS: number;
}

/**
 * A CPU meter over a window for this process (the generator) and a broker: `stop()` gives both
 * percentages of one core, what everything else on the machine used meanwhile (`otherPct`: the
 * machines are shared, and a busy neighbour explains a bad round) and how busy each CPU was.
 */
export function startCpuWindow(brokerPids: number[]): { stop(): CpuWindow } {
  const t0 = performance.now();
  const self0 = process.cpuUsage();
  const broker0 = cpuOf(brokerPids);
  const busy0 = busySeconds();
  return {
    stop() {
      const wallS = (performance.now() - t0) / 1000;
      const self = process.cpuUsage(self0);
      const selfS = (self.user + self.system) / 1e6;
      const brokerCpuS = cpuOf(brokerPids) - broker0;
      const busy = busySeconds();
      const otherS = busy.all - busy0.all - brokerCpuS - selfS;
      return {
        wallS,
        generatorPct: (selfS / wallS) * 100,
        brokerPct: (brokerCpuS / wallS) * 100,
        otherPct: Math.max(0, (otherS / wallS) * 100),
        corePct: busy.perCpu.map((b, i) => Math.min(100, ((b - (busy0.perCpu[i] ?? b)) / wallS) * 100)),
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
export async function settle(pids: number[], maxMs: number, quietPct = 25): Promise<number> {
  const end = Date.now() + maxMs;
  let otherPct = Number.NaN;
  do {
    const b0 = cpuOf(pids);
    const m0 = busySeconds().all;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 250));
    const wallS = (performance.now() - t0) / 1000;
    const broker = cpuOf(pids) - b0;
    otherPct = ((busySeconds().all - m0 - broker) / wallS) * 100;
    if (!(broker / wallS > 0.05) && !(otherPct > quietPct)) break;
  } while (Date.now() < end);
  return otherPct;
}

/**
 * The kernel's count of connections dropped because a listener's accept queue was full
 * (TcpExt ListenOverflows in /proc/net/netstat): for the whole machine, NaN where unreadable.
 */
export function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0]!.split(/\s+/);
    const values = lines[1]!.split(/\s+/);
    const i = names.indexOf('ListenOverflows');
    return i > 0 ? Number(values[i]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
