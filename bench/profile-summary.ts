// Where a broker's time went: reads V8 .cpuprofile files (BENCH_CPU_PROF=DIR npm run bench) and prints
// self and inclusive time per function, as a share of the busy (non-idle) samples.
//
//   node dist/bench/profile-summary.js FILE.cpuprofile [--top 40] [--match broker/]
//
// --match keeps only functions whose file path contains the string (e.g. the hub's own code).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, '').replace(/.*\/dist\//, '')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
}

export function summarize(p: Profile): { busyMs: number; gcMs: number; rows: Array<{ fn: string; selfMs: number; totalMs: number }> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busyMs = 0;
  let gcMs = 0;
  p.samples.forEach((id, i) => {
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    const n = byId.get(id);
    if (!n) return;
    const name = n.callFrame.functionName;
    if (name === '(garbage collector)') gcMs += ms;
    if (name === '(idle)' || name === '(program)') return;
    busyMs += ms;
    const l = label(n);
    self.set(l, (self.get(l) ?? 0) + ms);
    // Inclusive: each distinct function on the stack once (recursion counted once).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur)!;
      if (node.callFrame.functionName === '(root)') break;
      const cl = label(node);
      if (seen.has(cl)) continue;
      seen.add(cl);
      total.set(cl, (total.get(cl) ?? 0) + ms);
    }
  });
  const rows = [...total.entries()].filter(([fn]) => !IDLE.has(fn)).map(([fn, totalMs]) => ({ fn, selfMs: self.get(fn) ?? 0, totalMs }));
  return { busyMs, gcMs, rows };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' }, match: { type: 'string' }, sort: { type: 'string', default: 'self' } } });
  for (const file of positionals) {
    const s = summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile);
    const rows = s.rows.filter((r) => !values.match || r.fn.includes(values.match))
      .sort((a, b) => (values.sort === 'total' ? b.totalMs - a.totalMs : b.selfMs - a.selfMs))
      .slice(0, Number(values.top));
    const pct = (ms: number) => `${((ms / s.busyMs) * 100).toFixed(1).padStart(5)}%`;
    process.stdout.write(`${basename(file)}: busy ${s.busyMs.toFixed(0)} ms (GC ${pct(s.gcMs)})\n   self  total  function\n`);
    for (const r of rows) process.stdout.write(`${pct(r.selfMs)} ${pct(r.totalMs)}  ${r.fn}\n`);
    process.stdout.write('\n');
  }
}

main();
