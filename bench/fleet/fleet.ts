// The fleet section of the bench (docs/BENCHMARKING.md, "Fleet"): N simulated Pis (device-sim.ts, in a
// few processes on the generator's CPU) against pi-hub, bare Aedes and Mosquitto, one broker at a time
// on the broker's CPU, each fresh:
//
// 1. memory: the broker's RSS with no Pi, then with all N connected, subscribed and idle; per
//    connection = the difference / N (after a full GC in the Node brokers, with process.memoryUsage());
// 2. load: every Pi publishes stats every 5 s (±20 %), a user's client receives them all and sends
//    requests to random Pis at a fixed rate; round trip from each request's scheduled time to its
//    result (p50, p99), stats delivered per second, broker CPU and RSS;
// 3. storm (pi-hub): the hub is restarted on the same ports; time until every Pi is back, with the
//    agent's own backoff; GET /api/v1/health round trips meanwhile.
import { type ChildProcess, fork } from 'node:child_process';
import type { CommanderReport, CommanderStart } from './commander.js';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { type Credential, type Endpoints, connectClient } from '../clients.js';
import { startMosquitto } from '../contenders.js';
import type { Fixture } from '../fixture.js';
import { unitEnvironment, unitNodeFlags } from '../agent.js';
import { Daemon, HUB_CLI, HUB_LISTENING, ROOT } from '../harness.js';
import { BROKER_CPU, GENERATOR_CPU, assertLoopbackOnly, spawnBroker } from '../isolate.js';
import type { BenchOptions } from '../options.js';
import { cpuByThread, cpuOf, cpuSeconds, listenOverflows, rssBytes, startCpuWindow, storageWriteBytes } from '../proc.js';
import { quantile } from '../stats.js';
import { packageVersion } from '../versions.js';
import { type FleetDevice, enrollBulk } from './enroll-bulk.js';
import type { SimCounts, SimMessage, SimReport } from './device-sim.js';
import type { FleetContender, FleetOptions } from './options.js';

const SIM = fileURLToPath(new URL('./device-sim.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./mem-probe.js', import.meta.url));
const AEDES_SERVER = fileURLToPath(new URL('../aedes-server.js', import.meta.url));
const COMMANDER = fileURLToPath(new URL('./commander.js', import.meta.url));

/** Pis in a simulator process of their own, the commands' probe group (commander.ts). */
export const probeCount = (size: number) => Math.min(20, Math.floor(size / 10));


export interface MemoryBreakdown { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number }

export interface FleetResult {
  contender: FleetContender;
  label: string;
  size: number;
  /** Pis up at the end of the ramp (all of them, unless some failed). */
  connected: number;
  rampS: number;
  baseRss: number;
  fullRss: number;
  perConnBytes: number;
  /** Node brokers: memoryUsage() after a full GC, with no Pi and with all of them. */
  memBase: MemoryBreakdown | null;
  memFull: MemoryBreakdown | null;
  load: LoadResult | null;
  storm: StormResult | null;
  errors: string[];
}

export interface RttSummary { answered: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number }

export interface LoadResult {
  seconds: number;
  statsOfferedPerS: number;
  statsDeliveredPerS: number;
  cmdRate: number;
  cmdSent: number;
  cmdAnswered: number;
  /** Round trips to the probe Pis (a simulator process of their own, as a Pi is a machine of its own). */
  probe: RttSummary;
  /** Round trips to any Pi of the fleet (2,500 simulated in one process: that process's delays count too). */
  fleet: RttSummary;
  brokerCpuPct: number;
  brokerRssEnd: number;
  /** What the broker wrote to storage a second over the window (its databases and their WALs, its logs). */
  brokerWritesPerS: number;
  /**
   * How busy the broker's and the generator's CPUs were over the window, anyone's load (null unpinned):
   * with every Pi, the user's watcher and the commander on the generator's CPU, a saturated generator
   * delays the round trips as much as the broker does (docs/BENCHMARKING.md, "The method").
   */
  corePct: { broker: number; generator: number } | null;
}

export interface StormResult {
  /** SIGTERM to the old hub's exit (every session closed). */
  stopS: number;
  /** The new hub's start to its `listening` line. */
  startS: number;
  /** From the restarted hub listening to every Pi up again; NaN if not all came back in time. */
  allBackS: number;
  /** From SIGTERM to every Pi up again: what a Pi's owner sees of the restart. */
  allBackFromSigtermS: number;
  backAt: { p10: number; half: number; p90: number; p99: number };
  missing: number;
  healthP50Ms: number;
  healthP99Ms: number;
  healthMaxMs: number;
  healthFailed: number;
  /**
   * The same over one kept-alive connection (as a dashboard already open): what the hub's event loop
   * answers, without the wait for a new connection's handshake behind the Pis'. Its first request is not
   * counted (it opens the connection).
   */
  keptP50Ms: number;
  keptP99Ms: number;
  /** CPU seconds from the new hub's start to every Pi back (or the timeout): the hub's, and the simulators'. */
  hubCpuS: number;
  /** The same by thread (main: the event loop), most first. */
  hubThreads: Array<[string, number]>;
  simCpuS: number;
  /** Connections the kernel dropped meanwhile because a listener's accept queue was full (the whole machine's count). */
  listenOverflows: number;
  /** What the Pis' links logged from SIGTERM to the end, most frequent first. */
  events: Array<[string, number]>;
}

interface Broker {
  label: string;
  pid: number;
  endpoints: Endpoints;
  probeFile: string | null;
  stop(): Promise<void>;
  restart?(): Promise<{ pid: number; stopS: number; startS: number }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The fleet's data: the bench's fixture (CA, user) plus `size` Pis enrolled in bulk, in a file for the simulators. */
export async function prepareFleet(f: Fixture, size: number): Promise<{ devicesFile: string; devices: FleetDevice[] }> {
  const devices = await enrollBulk(f.dataDir, 'bench', size);
  const devicesFile = join(f.dataDir, 'fleet-devices.json');
  writeFileSync(devicesFile, JSON.stringify(devices));
  return { devicesFile, devices };
}

function nodeBrokerEnv(probeFile: string, unitEnv: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...unitEnv, PIFLEET_MEM_PROBE_FILE: probeFile };
}

async function startNodeBroker(name: string, args: string[], re: RegExp, pin: boolean, probeFile: string, nodeArgs: string[], unitEnv?: Record<string, string>): Promise<{ daemon: Daemon; m: RegExpExecArray }> {
  const daemon = new Daemon(spawnBroker(process.execPath, [...nodeArgs, '--expose-gc', '--import', PROBE, ...args], pin, nodeBrokerEnv(probeFile, unitEnv)), name);
  try {
    const m = await daemon.waitForLine(re, 60_000, 0);
    assertLoopbackOnly([daemon.pid]);
    return { daemon, m };
  } catch (err) {
    await daemon.stop('SIGKILL');
    throw err;
  }
}

async function startFleetHub(f: Fixture, o: FleetOptions, pin: boolean, work: string): Promise<Broker> {
  // Every limit at its default (docs/ARCHITECTURE.md, "Limits"), as shipped, unless BENCH_FLEET_HUB_JSON says otherwise.
  writeFileSync(join(f.dataDir, 'hub.json'), JSON.stringify(o.hubJson));
  const probeFile = join(work, 'hub-mem.json');
  const args = (port: string, mqttsPort: string) => [HUB_CLI, 'serve', '--data-dir', f.dataDir, '--host', '127.0.0.1', '--port', port, '--mqtts-port', mqttsPort];
  // As systemd/pi-hub.service runs it: with that unit's environment (its malloc setting), not its data
  // directory, and ExecStart's node flags (the GC's room) before any the bench is given.
  const unit = readFileSync(join(ROOT, 'systemd', 'pi-hub.service'), 'utf8');
  const { PI_HUB_DATA_DIR: _, ...unitEnv } = unitEnvironment(unit);
  const nodeArgs = [...unitNodeFlags(unit), ...o.nodeArgs];
  let { daemon, m } = await startNodeBroker('pi-hub', args('0', '0'), HUB_LISTENING, pin, probeFile, nodeArgs, unitEnv);
  const port = m[1]!;
  const mqttsPort = m[2]!;
  const broker: Broker = {
    label: 'pi-hub (SQLite)', pid: daemon.pid, probeFile,
    endpoints: { wssUrl: `wss://127.0.0.1:${port}/mqtt`, mqttsPort: Number(mqttsPort), host: '127.0.0.1', ca: f.caPem, servername: 'localhost' },
    stop: async () => { await daemon.stop(); },
    restart: async () => {
      // Closing 10,000 sessions (each will stored) takes longer than the usual 10 s before SIGKILL.
      const t0 = performance.now();
      await daemon.stop('SIGTERM', 120_000);
      const t1 = performance.now();
      ({ daemon } = await startNodeBroker('pi-hub', args(port, mqttsPort), HUB_LISTENING, pin, probeFile, nodeArgs, unitEnv));
      broker.pid = daemon.pid;
      return { pid: daemon.pid, stopS: (t1 - t0) / 1000, startS: (performance.now() - t1) / 1000 };
    },
  };
  return broker;
}

async function startFleetAedes(f: Fixture, o: FleetOptions, pin: boolean, work: string): Promise<Broker> {
  const caFile = join(work, 'ca.pem');
  writeFileSync(caFile, f.caPem);
  const probeFile = join(work, 'aedes-mem.json');
  const { daemon, m } = await startNodeBroker('aedes', [AEDES_SERVER, '--key', f.serverKey, '--cert', f.serverCert, '--ca', caFile],
    /listening (wss:\S+) mqtts:\/\/127\.0\.0\.1:(\d+)/, pin, probeFile, o.nodeArgs);
  return {
    label: `bare Aedes ${packageVersion('aedes')}`, pid: daemon.pid, probeFile,
    endpoints: { wssUrl: m[1]!, mqttsPort: Number(m[2]), host: '127.0.0.1', ca: f.caPem, servername: 'localhost' },
    stop: async () => { await daemon.stop(); },
  };
}

async function startFleetMosquitto(f: Fixture, b: BenchOptions, pin: boolean): Promise<Broker | string> {
  const c = await startMosquitto(f, b, pin);
  if (typeof c === 'string') return c;
  return { label: c.label, pid: c.pid, endpoints: c.endpoints, probeFile: null, stop: c.stop };
}

/** Asks a Node broker for its memory after a full GC (mem-probe.ts): null if it does not answer in time. */
export async function readMemProbe(pid: number, probeFile: string, timeoutMs = 30_000): Promise<MemoryBreakdown | null> {
  const before = existsSync(probeFile) ? statSync(probeFile).mtimeMs : 0;
  process.kill(pid, 'SIGUSR2');
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    await sleep(100);
    if (existsSync(probeFile) && statSync(probeFile).mtimeMs !== before) {
      const j = JSON.parse(readFileSync(probeFile, 'utf8')) as MemoryBreakdown;
      return { rss: j.rss, heapTotal: j.heapTotal, heapUsed: j.heapUsed, external: j.external, arrayBuffers: j.arrayBuffers };
    }
  }
  return null;
}

/** The simulators: `workers` processes sharing the fleet's Pis. */
class Sims {
  private readonly children: ChildProcess[] = [];
  private readonly counts: SimCounts[] = [];
  readonly errors: string[] = [];

  constructor(private readonly workers: number) {}

  start(url: string, ca: string, devicesFile: string, size: number, o: FleetOptions): void {
    // The last probeCount(size) Pis in a process of their own (the commands' probe group), the rest
    // shared among the workers.
    const probes = probeCount(size);
    const rest = size - probes;
    const per = Math.ceil(rest / this.workers);
    const ranges: Array<[number, number]> = [];
    for (let w = 0; w < this.workers && w * per < rest; w++) ranges.push([w * per, Math.min(rest, (w + 1) * per)]);
    if (probes > 0) ranges.push([rest, size]);
    for (const [w, [from, to]] of ranges.entries()) {
      const child = fork(SIM, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: o.simArgs });
      this.counts[w] = { up: 0, everUp: 0, downs: 0, statsSent: 0, requestsAnswered: 0, back: 0 };
      child.on('message', (r: SimReport) => {
        if (r.type === 'counts') this.counts[w] = r;
        else if (r.type === 'error') this.errors.push(r.message);
      });
      const m: SimMessage = {
        type: 'start', url, ca, devicesFile, from, to,
        inFlight: Math.max(1, Math.ceil(o.inFlight / ranges.length)), reconnectMinMs: o.reconnectMinMs, reconnectMaxMs: o.reconnectMaxMs,
        ...(o.rttLog ? { hopLog: `${o.rttLog}.pi` } : {}),
      };
      child.send(m);
      this.children.push(child);
    }
  }

  total(): SimCounts {
    const t = { up: 0, everUp: 0, downs: 0, statsSent: 0, requestsAnswered: 0, back: 0 };
    for (const c of this.counts) for (const k of Object.keys(t) as Array<keyof typeof t>) t[k] += c[k];
    return t;
  }

  /** What the Pis' links logged, summed over the simulators, most frequent first. */
  events(): Array<[string, number]> {
    const sum: Record<string, number> = {};
    for (const c of this.counts) for (const [k, n] of Object.entries(c.events ?? {})) sum[k] = (sum[k] ?? 0) + n;
    return Object.entries(sum).sort((a, b) => b[1] - a[1]);
  }

  pids(): number[] { return this.children.flatMap((c) => (c.pid === undefined ? [] : [c.pid])); }

  send(m: SimMessage): void { for (const c of this.children) if (c.connected) c.send(m); }

  async waitUp(n: number, timeoutMs: number, stopping: () => boolean): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end && !stopping()) {
      if (this.total().up >= n) return true;
      await sleep(100);
    }
    return this.total().up >= n;
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      if (c.connected) c.send({ type: 'stop' } satisfies SimMessage);
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await once(c, 'exit');
      clearTimeout(t);
    }));
  }
}

/** The user's side during the load: everything every Pi sends on one connection, and requests from a process of their own. */
async function runLoad(b: Broker, user: Credential, serials: string[], sims: Sims, o: FleetOptions, pin: boolean): Promise<LoadResult> {
  // A dashboard tab showing every Pi: the hub drops stats (QoS 0) for a watcher that falls behind.
  const watcher: MqttClient = await connectClient('wss', b.endpoints, user, `fleet-watch-${process.pid}`, 15_000);
  let stats = 0;
  watcher.on('message', () => { stats++; });
  await watcher.subscribeAsync(['devices/+/stats'], { qos: 0 });
  sims.send({ type: 'stats', everyMs: o.statsEveryMs });
  await sleep(o.statsEveryMs); // every Pi has sent once: the steady state
  const probes = probeCount(serials.length);
  const commander = fork(COMMANDER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const report = once(commander, 'message') as Promise<[CommanderReport]>;
  const exited = once(commander, 'exit');
  const cpu = startCpuWindow([b.pid]);
  const written0 = storageWriteBytes(b.pid);
  const stats0 = stats;
  const sent0 = sims.total().statsSent;
  commander.send({
    endpoints: b.endpoints, user, rate: o.cmdRate, seconds: o.loadSeconds,
    probes: serials.slice(serials.length - probes), fleet: serials.slice(0, serials.length - probes),
    ...(o.rttLog ? { rttLog: o.rttLog } : {}),
  } satisfies CommanderStart);
  await sleep(o.loadSeconds * 1000);
  const { wallS, brokerPct: brokerCpuPct, corePct: cores } = cpu.stop();
  const brokerWritesPerS = (storageWriteBytes(b.pid) - written0) / wallS;
  const corePct = pin ? { broker: cores[BROKER_CPU] ?? Number.NaN, generator: cores[GENERATOR_CPU] ?? Number.NaN } : null;
  const statsDelivered = stats - stats0;
  const statsOffered = sims.total().statsSent - sent0;
  const [r] = await Promise.race([report, exited.then(() => [{ sent: 0, probe: [], fleet: [], error: 'the commander exited without a report' }] as [CommanderReport])]);
  if (r.error) throw new Error(`fleet commands: ${r.error}`);
  sims.send({ type: 'stats', everyMs: 0 });
  watcher.end(true);
  const summary = (rtts: number[]): RttSummary => {
    const sorted = [...rtts].sort((a, c) => a - c);
    return { answered: sorted.length, p50Ms: quantile(sorted, 0.5), p90Ms: quantile(sorted, 0.9), p99Ms: quantile(sorted, 0.99), maxMs: sorted[sorted.length - 1] ?? Number.NaN };
  };
  return {
    seconds: wallS, statsOfferedPerS: statsOffered / wallS, statsDeliveredPerS: statsDelivered / wallS,
    cmdRate: o.cmdRate, cmdSent: r.sent, cmdAnswered: r.probe.length + r.fleet.length,
    probe: summary(r.probe), fleet: summary(r.fleet),
    brokerCpuPct, brokerRssEnd: rssBytes(b.pid), brokerWritesPerS, corePct,
  };
}

function healthOnce(port: number, ca: string, agent: https.Agent | false = false): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/api/v1/health', ca, servername: 'localhost', timeout: 10_000, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - t0 : Number.NaN));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(Number.NaN));
  });
}

async function runStorm(b: Broker, sims: Sims, size: number, o: FleetOptions, stopping: () => boolean): Promise<StormResult> {
  const port = Number(new URL(b.endpoints.wssUrl).port);
  const before = new Map(sims.events());
  sims.send({ type: 'mark' }); // a Pi is back when it is up again after this, not while it has not noticed the cut
  await sleep(200);
  const overflows0 = listenOverflows();
  const { stopS, startS } = await b.restart!();
  const t0 = performance.now();
  // The simulators' CPU from the new hub's `listening` line, the hub's from its start.
  const simCpu0 = cpuOf(sims.pids());
  const backAt: number[] = [];
  const health: number[] = [];
  let healthFailed = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const ms = await healthOnce(port, b.endpoints.ca);
      if (Number.isNaN(ms)) healthFailed++; else health.push(ms);
      await sleep(200);
    }
  })();
  const kept: number[] = [];
  const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const keptPoller = (async () => {
    let first = true;
    while (polling) {
      const ms = await healthOnce(port, b.endpoints.ca, keepAlive);
      if (!first && !Number.isNaN(ms)) kept.push(ms);
      first = false;
      await sleep(200);
    }
    keepAlive.destroy();
  })();
  // The Pis notice the restart (connection closed), back off with jitter and come back on their own.
  await sleep(500);
  const end = t0 + o.stormTimeoutS * 1000;
  let lastUp = -1;
  let told = performance.now();
  while (performance.now() < end && !stopping()) {
    const up = sims.total().back;
    if (performance.now() - told > 10_000) { told = performance.now(); process.stderr.write(`fleet: storm: ${up}/${size} back after ${((told - t0) / 1000).toFixed(0)} s\n`); }
    if (up !== lastUp) { for (let i = Math.max(0, lastUp); i < up; i++) backAt.push((performance.now() - t0) / 1000); lastUp = up; }
    if (up >= size) break;
    await sleep(100);
  }
  const hubCpuS = cpuSeconds(b.pid);
  const hubThreads = Object.entries(cpuByThread(b.pid)).sort((x, y) => y[1] - x[1]);
  const simCpuS = cpuOf(sims.pids()) - simCpu0;
  const overflows = listenOverflows() - overflows0;
  polling = false;
  await Promise.all([poller, keptPoller]);
  const up = sims.total().back;
  const at = (q: number) => backAt[Math.min(backAt.length - 1, Math.ceil(q * size) - 1)] ?? Number.NaN;
  const hs = [...health].sort((a, c) => a - c);
  const ks = [...kept].sort((a, c) => a - c);
  const allBackS = up >= size ? (backAt[backAt.length - 1] ?? Number.NaN) : Number.NaN;
  return {
    stopS, startS, allBackS, allBackFromSigtermS: stopS + startS + allBackS,
    backAt: { p10: at(0.1), half: at(0.5), p90: at(0.9), p99: at(0.99) },
    missing: size - up,
    healthP50Ms: quantile(hs, 0.5), healthP99Ms: quantile(hs, 0.99), healthMaxMs: hs[hs.length - 1] ?? Number.NaN, healthFailed,
    keptP50Ms: quantile(ks, 0.5), keptP99Ms: quantile(ks, 0.99),
    hubCpuS, hubThreads, simCpuS, listenOverflows: overflows,
    events: sims.events().map(([k, n]): [string, number] => [k, n - (before.get(k) ?? 0)]).filter(([, n]) => n > 0).slice(0, 10),
  };
}

export async function runFleet(
  f: Fixture, fleet: { devicesFile: string; devices: FleetDevice[] }, o: FleetOptions, b: BenchOptions, pin: boolean,
  progress: (s: string) => void, stopping: () => boolean,
): Promise<{ results: FleetResult[]; skipped: string[] }> {
  const results: FleetResult[] = [];
  const skipped: string[] = [];
  const serials = fleet.devices.map((d) => d.serial);
  for (const name of o.contenders) {
    if (stopping()) break;
    const work = mkdtempSync(join(tmpdir(), 'pifleet-bench-fleet-'));
    let broker: Broker | string | null = null;
    const sims = new Sims(o.workers);
    try {
      broker = name === 'pi-hub' ? await startFleetHub(f, o, pin, work)
        : name === 'aedes' ? await startFleetAedes(f, o, pin, work)
          : await startFleetMosquitto(f, b, pin);
      if (typeof broker === 'string') { skipped.push(broker); continue; }
      progress(`fleet: ${broker.label} (pid ${broker.pid}), ${o.size} Pis …`);
      await sleep(1000);
      const memBase = broker.probeFile ? await readMemProbe(broker.pid, broker.probeFile) : null;
      const baseRss = rssBytes(broker.pid);
      const t0 = performance.now();
      sims.start(broker.endpoints.wssUrl, f.caPem, fleet.devicesFile, o.size, o);
      const all = await sims.waitUp(o.size, o.rampTimeoutS * 1000, stopping);
      const rampS = (performance.now() - t0) / 1000;
      const connected = sims.total().up;
      progress(`fleet: ${broker.label}: ${connected}/${o.size} up in ${rampS.toFixed(1)} s`);
      await sleep(3000); // idle: what the connections hold at rest
      const memFull = broker.probeFile ? await readMemProbe(broker.pid, broker.probeFile) : null;
      const fullRss = rssBytes(broker.pid);
      const result: FleetResult = {
        contender: name, label: broker.label, size: o.size, connected, rampS, baseRss, fullRss,
        perConnBytes: connected > 0 ? (fullRss - baseRss) / connected : Number.NaN,
        memBase, memFull, load: null, storm: null, errors: [],
      };
      results.push(result);
      if (!all) result.errors.push(`${o.size - connected} Pis not up after ${o.rampTimeoutS} s`);
      if (o.loadSeconds > 0 && !stopping()) {
        result.load = await runLoad(broker, f.user, serials, sims, o, pin);
        progress(`fleet: ${broker.label}: load p99 ${result.load.probe.p99Ms.toFixed(1)} ms (probe Pis), ${result.load.fleet.p99Ms.toFixed(1)} ms (fleet), ${result.load.statsDeliveredPerS.toFixed(0)} stats/s`);
      }
      if (o.storm && broker.restart && !stopping()) {
        result.storm = await runStorm(broker, sims, o.size, o, stopping);
        progress(`fleet: ${broker.label}: storm, all back in ${result.storm.allBackS.toFixed(1)} s`);
      }
      result.errors.push(...sims.errors);
    } finally {
      await sims.stop();
      if (broker && typeof broker !== 'string') await broker.stop().catch(() => {});
      rmSync(work, { recursive: true, force: true });
    }
  }
  return { results, skipped };
}
