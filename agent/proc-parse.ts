// The Linux files the stats come from, parsed (proc(5), statfs(2)): pure functions over their text, so
// that fixtures test them; agent/stats.ts reads the files. The figures are those systeminformation gave
// (docs/ARCHITECTURE.md `devices/<serial>/stats`), without its shell commands and its 140 KB of code.
import { isPseudoFilesystem } from './filesystems.js';

/** The busy and total time of all CPUs together, in clock ticks since boot. */
export interface CpuTimes { busy: number; total: number }

/**
 * The `cpu` line of /proc/stat (user nice system idle iowait irq softirq steal …). Busy is user + nice
 * + system + irq + steal and total adds idle: what libuv's cpu times gave systeminformation, which
 * counts neither iowait nor softirq. Null when the line is missing.
 */
export function parseProcStat(text: string): CpuTimes | null {
  const line = /^cpu\s+(.*)$/m.exec(text)?.[1];
  if (line === undefined) return null;
  const n = line.trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, , irq = 0, , steal = 0] = n;
  if (n.length < 4 || n.some((x) => !Number.isFinite(x))) return null;
  const busy = user + nice + system + irq + steal;
  return { busy, total: busy + idle };
}

/** The load in % between two readings (since boot when there is no earlier one), 0 when no time passed. */
export function cpuLoad(before: CpuTimes | null, now: CpuTimes): number {
  const total = now.total - (before?.total ?? 0);
  const busy = now.busy - (before?.busy ?? 0);
  return total > 0 ? Math.min(100, Math.max(0, (busy / total) * 100)) : 0;
}

/**
 * Total memory and what is in use, in bytes, from /proc/meminfo: used = MemTotal − MemAvailable,
 * what `free` calls used (the number that runs out); without MemAvailable (kernels before 3.14), free
 * + buffers + page cache + slab are taken as available. Null without MemTotal.
 */
export function parseMeminfo(text: string): { total: number; used: number } | null {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  if (!total) return null;
  const available = kb('MemAvailable') ?? (kb('MemFree') ?? 0) + (kb('Buffers') ?? 0) + (kb('Cached') ?? 0) + (kb('Slab') ?? 0);
  return { total, used: Math.max(0, total - available) };
}

/** One line of /proc/self/mountinfo that holds storage. */
export interface Mount { device: string; root: string; mount: string; type: string; source: string }

/** /proc/self/mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/**
 * The mounts of /proc/self/mountinfo that `df` lists and the stats keep (proc(5), "mountinfo"): no
 * pseudo filesystems (filesystems.ts, which also leaves out squashfs, as systeminformation's
 * `df -x squashfs` did), a mount point mounted over counts once, as its last mount, and a device
 * mounted at several places once, as df shows it: a whole filesystem before a bind mount of a
 * directory of it, then the mount point nearest to /.
 */
export function parseMountinfo(text: string): Mount[] {
  const byMount = new Map<string, Mount>();
  for (const line of text.split('\n')) {
    // id parent major:minor root mount-point options [optional fields…] - type source super-options
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    if (left.length < 6 || right.length < 2) continue;
    const m: Mount = { device: left[2]!, root: unescape(left[3]!), mount: unescape(left[4]!), type: right[0]!, source: unescape(right[1]!) };
    if (isPseudoFilesystem(m.type)) continue;
    byMount.delete(m.mount); // keeps the order of the last mount
    byMount.set(m.mount, m);
  }
  const byDevice = new Map<string, Mount>();
  for (const m of byMount.values()) {
    const seen = byDevice.get(m.device);
    if (!seen || better(m, seen)) byDevice.set(m.device, m);
  }
  const kept = new Set(byDevice.values());
  return [...byMount.values()].filter((m) => kept.has(m));
}

/** Of two mounts of one device: the whole filesystem over a bind of a directory, then the shorter path. */
function better(m: Mount, than: Mount): boolean {
  const whole = (x: Mount) => x.root === '/';
  if (whole(m) !== whole(than)) return whole(m);
  return m.mount.length < than.mount.length;
}

/** Size and used bytes from statfs(2): used is what is not free (`df`'s Used), reserved blocks included. */
export function diskUsage(s: { bsize: number; blocks: number; bfree: number }): { size: number; used: number } {
  return { size: s.blocks * s.bsize, used: Math.max(0, s.blocks - s.bfree) * s.bsize };
}

/** Received and sent bytes per interface from /proc/net/dev (two header lines, then `name: rx… tx…`). */
export function parseNetDev(text: string): Map<string, { rxBytes: number; txBytes: number }> {
  const out = new Map<string, { rxBytes: number; txBytes: number }>();
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const n = m[2]!.trim().split(/\s+/).map(Number);
    // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes …
    if (n.length < 9 || !Number.isFinite(n[0]) || !Number.isFinite(n[8])) continue;
    out.set(m[1]!, { rxBytes: n[0]!, txBytes: n[8]! });
  }
  return out;
}
