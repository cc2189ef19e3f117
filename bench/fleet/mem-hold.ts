// Where a Node broker's memory per idle connection goes (docs/BENCHMARKING.md, "Memory per connection,
// where it goes"): one broker (pi-hub or bare Aedes), N Pis of the fleet simulator, the broker's memory
// after a full GC with none and with all N, split by mapping ([heap] is glibc's main arena, the rest of
// the anonymous memory mostly V8's heap and mmapped allocations), and the CPU the broker spent on the ramp.
//
//   node dist/bench/fleet/mem-hold.js            # HOLD_N=2000 HOLD_BROKER=pi-hub
//
// HOLD_N Pis (2000; at most the fixture's 3,000), HOLD_BROKER pi-hub|aedes, HOLD_ENV="K=V …" for the
// broker alone (e.g. MALLOC_MMAP_THRESHOLD_=65536; pi-hub gets none of its unit's environment here:
// this is for comparing), HOLD_WRAP="heaptrack -o FILE" to run the broker under a tool, HOLD_KILL=1 to
// end it with SIGKILL while it holds every connection (under heaptrack, what is live then is reported as
// "leaked", by allocation site: `heaptrack_print -f FILE.zst -l 1`), HOLD_FIXTURE=DIR to keep the CA,
// the user and 3,000 enrolled Pis between runs (enrolling them takes a minute). PIFLEET_HEAP_SNAPSHOT_DIR
// works as in the fleet bench, but writing a snapshot inflates the RSS measured after it.
// Everything on 127.0.0.1, the broker and the simulator pinned to a CPU each, as in the fleet bench
// (BENCH_PIN=0: not).
import { type ChildProcess, fork } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Fixture, prepareFixture } from '../fixture.js';
import { HUB_CLI } from '../harness.js';
import type { SimMessage, SimReport } from './device-sim.js';
import { pinGenerator, spawnBroker } from '../isolate.js';
import { cpuSeconds } from '../proc.js';
import { prepareFleet, readMemProbe } from './fleet.js';

const SIM = fileURLToPath(new URL('./device-sim.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./mem-probe.js', import.meta.url));
const AEDES_SERVER = fileURLToPath(new URL('../aedes-server.js', import.meta.url));
const FIXTURE_PIS = 3000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample { cpuS: number; rss: number; heapUsed: number; heapTotal: number; external: number; brkKB: number; anonKB: number }

const words = (s: string | undefined) => (s ?? '').split(/\s+/).filter(Boolean);

async function fixture(dir: string | undefined): Promise<{ f: Fixture; devicesFile: string }> {
  const saved = dir ? join(dir, 'fixture.json') : null;
  if (saved && existsSync(saved)) return JSON.parse(readFileSync(saved, 'utf8')) as { f: Fixture; devicesFile: string };
  const f = await prepareFixture(0);
  const { devicesFile } = await prepareFleet(f, FIXTURE_PIS);
  if (dir && saved) { mkdirSync(dir, { recursive: true }); writeFileSync(saved, JSON.stringify({ f, devicesFile })); }
  return { f, devicesFile };
}

/** RSS of [heap] and of anonymous mappings, KB. */
function mappings(pid: number): { brkKB: number; anonKB: number } {
  let brkKB = 0, anonKB = 0;
  let kind: 'brk' | 'anon' | null = null;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) { kind = m[1] === '[heap]' ? 'brk' : m[1] === '' ? 'anon' : null; continue; }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r && kind === 'brk') brkKB += Number(r[1]);
    else if (r && kind === 'anon') anonKB += Number(r[1]);
  }
  return { brkKB, anonKB };
}

/** The node process among `root`'s descendants (a wrapper such as heaptrack runs it as a child). */
function nodeUnder(root: number): number {
  const parents = new Map<number, number>();
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try { parents.set(Number(d), Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1])); } catch { /* gone */ }
  }
  const below = (p: number): number[] => [...parents].filter(([, pp]) => pp === p).flatMap(([c]) => [c, ...below(c)]);
  const found = below(root).find((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'node');
  if (found === undefined) throw new Error(`no node process under ${root}`);
  return found;
}

async function sample(pid: number, probeFile: string): Promise<Sample> {
  const m = await readMemProbe(pid, probeFile, 60_000); // mem-probe: a full GC, then memoryUsage()
  if (!m) throw new Error(`the broker (pid ${pid}) did not report its memory within 60 s`);
  return { cpuS: cpuSeconds(pid), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, ...mappings(pid) };
}

async function main(): Promise<void> {
  const n = Number(process.env.HOLD_N ?? 2000);
  const brokerName = process.env.HOLD_BROKER ?? 'pi-hub';
  if (!Number.isInteger(n) || n < 1 || n > FIXTURE_PIS) throw new Error(`HOLD_N: 1–${FIXTURE_PIS}`);
  if (brokerName !== 'pi-hub' && brokerName !== 'aedes') throw new Error('HOLD_BROKER: pi-hub or aedes');
  const { f, devicesFile } = await fixture(process.env.HOLD_FIXTURE);
  const work = mkdtempSync(join(tmpdir(), 'pifleet-mem-hold-'));
  let broker: ChildProcess | null = null;
  let sim: ChildProcess | null = null;
  try {
    const dataDir = join(work, 'data');
    cpSync(f.dataDir, dataDir, { recursive: true, filter: (p) => !/mqtt\.db/.test(p) });
    writeFileSync(join(dataDir, 'hub.json'), '{}');
    writeFileSync(join(work, 'ca.pem'), f.caPem);
    const probeFile = join(work, 'mem.json');
    const node = [process.execPath, '--expose-gc', '--import', PROBE];
    const args = brokerName === 'pi-hub'
      ? [...node, HUB_CLI, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--mqtts-port', '0']
      : [...node, AEDES_SERVER, '--key', f.serverKey, '--cert', f.serverCert, '--ca', join(work, 'ca.pem')];
    const cmd = [...words(process.env.HOLD_WRAP), ...args];
    const extraEnv = Object.fromEntries(words(process.env.HOLD_ENV).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    // The broker on its CPU and this process (and so the simulator) on the other, as in the fleet bench.
    broker = spawnBroker(cmd[0]!, cmd.slice(1), pinGenerator(), { ...process.env, ...extraEnv, PIFLEET_MEM_PROBE_FILE: probeFile });
    let out = '';
    broker.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    broker.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    let url: string | null = null;
    for (let i = 0; i < 600 && !url; i++) {
      await sleep(100);
      const hub = /listening https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      url = hub ? `wss://127.0.0.1:${hub[1]}/mqtt` : /listening (wss:\S+)/.exec(out)?.[1] ?? null;
    }
    if (!url) throw new Error(`the broker did not start: ${out.slice(-1000)}`);
    // Under a wrapper that forks (heaptrack), the broker is node, the wrapper's child.
    const pid = words(process.env.HOLD_WRAP).length === 0 ? broker.pid! : nodeUnder(broker.pid!);
    await sleep(1500);
    const base = await sample(pid, probeFile);
    sim = fork(SIM, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let up = 0;
    sim.on('message', (r: SimReport) => { if (r.type === 'counts') up = r.up; });
    const start: SimMessage = { type: 'start', url, ca: f.caPem, devicesFile, from: 0, to: n, inFlight: 20, reconnectMinMs: 1000, reconnectMaxMs: 60_000 };
    sim.send(start);
    const t0 = Date.now();
    while (up < n && Date.now() - t0 < Math.max(60, n / 10) * 1000) await sleep(200);
    const rampS = (Date.now() - t0) / 1000;
    await sleep(3000); // idle, as in the fleet bench
    const full = await sample(pid, probeFile);
    const per = (a: number, b: number) => `${((b - a) / up / 1024).toFixed(1)} KB`;
    const perKB = (a: number, b: number) => `${((b - a) / up).toFixed(1)} KB`;
    process.stdout.write(`${brokerName}${process.env.HOLD_ENV ? ` (${process.env.HOLD_ENV})` : ''}: ${up}/${n} up in ${rampS.toFixed(1)} s, `
      + `broker CPU for the ramp ${(full.cpuS - base.cpuS).toFixed(1)} s\n`
      + `  per connection after a full GC: RSS ${per(base.rss, full.rss)} = glibc [heap] ${perKB(base.brkKB, full.brkKB)} + anonymous ${perKB(base.anonKB, full.anonKB)} + other; `
      + `V8 heap used ${per(base.heapUsed, full.heapUsed)} (total ${per(base.heapTotal, full.heapTotal)}), external ${per(base.external, full.external)}\n`);
    process.kill(pid, process.env.HOLD_KILL === '1' ? 'SIGKILL' : 'SIGTERM');
  } finally {
    if (sim?.connected) sim.send({ type: 'stop' } satisfies SimMessage);
    const simExit = sim && sim.exitCode === null ? new Promise((r) => sim!.once('exit', r)) : null;
    setTimeout(() => { sim?.kill('SIGKILL'); broker?.kill('SIGKILL'); }, 10_000).unref();
    if (broker && broker.exitCode === null) await new Promise((r) => broker!.once('exit', r));
    await simExit;
    rmSync(work, { recursive: true, force: true });
    if (!process.env.HOLD_FIXTURE) rmSync(f.dataDir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: Error) => { process.stderr.write(`mem-hold: ${err.stack ?? err.message}\n`); process.exit(1); });
