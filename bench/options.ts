// What one `npm run bench` measures and for how long: flags and BENCH_* environment variables, checked
// once here so that a typo fails at once with a precise message instead of after minutes of load.
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CONTENDERS = ['pi-hub', 'pi-hub-memory', 'aedes', 'mosquitto', 'pi-hub-redis', 'pi-hub-redis2'] as const;
export type ContenderName = (typeof CONTENDERS)[number];

/** pi-hub with --cluster: one node, and two nodes on one Redis (docs/BENCHMARKING.md, "Several hub nodes"). */
export const CLUSTER_CONTENDERS: readonly ContenderName[] = ['pi-hub-redis', 'pi-hub-redis2'];

/** The workloads a contender is measured on: the cluster's are QoS 1 fan-in and round trips (issue 13). */
export function measures(c: ContenderName, w: Workload): boolean {
  if (!CLUSTER_CONTENDERS.includes(c)) return true;
  return (w.kind === 'fan-in' && w.qos === 1) || w.kind === 'rtt';
}

export type Transport = 'wss' | 'mqtts';
export type Qos = 0 | 1;

/**
 * `session`: the subscriber (fan-in) or the answering device (rtt) keeps a persistent session, as a Pi
 * does, so every QoS 1 message goes through the broker's persistence (mqtt.db for pi-hub).
 */
export type Workload =
  | { kind: 'fan-in'; id: string; transport: Transport; qos: Qos; session?: boolean }
  | { kind: 'rtt'; id: string; transport: Transport; session?: boolean }
  | { kind: 'connect'; id: string; transport: Transport };

export const WORKLOADS: Workload[] = [
  { kind: 'fan-in', id: 'fan-in wss qos0', transport: 'wss', qos: 0 },
  { kind: 'fan-in', id: 'fan-in wss qos1', transport: 'wss', qos: 1 },
  { kind: 'fan-in', id: 'fan-in mqtts qos0', transport: 'mqtts', qos: 0 },
  { kind: 'fan-in', id: 'fan-in mqtts qos1', transport: 'mqtts', qos: 1 },
  { kind: 'fan-in', id: 'fan-in wss qos1 session', transport: 'wss', qos: 1, session: true },
  { kind: 'rtt', id: 'rtt wss', transport: 'wss' },
  { kind: 'rtt', id: 'rtt wss session', transport: 'wss', session: true },
  { kind: 'rtt', id: 'rtt mqtts', transport: 'mqtts' },
  { kind: 'connect', id: 'connect wss', transport: 'wss' },
  { kind: 'connect', id: 'connect mqtts', transport: 'mqtts' },
];

export interface BenchOptions {
  quick: boolean;
  rounds: number;
  /** Length of each measured window (fan-in, round trips), seconds. */
  seconds: number;
  /** Load before each window starts counting, ms. */
  warmupMs: number;
  publishers: number;
  payloadBytes: number;
  /** Fan-in: messages a publisher may have sent and the subscriber not yet received. */
  window: number;
  /** Round trips: offered requests per second. */
  rate: number;
  connections: number;
  connConcurrency: number;
  /** A connection-rate point stops after this many seconds even if not all connections were made. */
  connectTimeLimitS: number;
  /** Before each point, wait up to this long for the broker to be idle and the machine quiet. */
  quietWaitMs: number;
  /** Waiting for quiet and measuring noisy points again stop when the run would exceed this. */
  budgetS: number;
  contenders: ContenderName[];
  workloads: Workload[];
  netns: boolean;
  out: string;
  /** Start the Node brokers with --cpu-prof, profiles written here. */
  cpuProfDir: string | null;
  mosquitto: string;
  /** Debian's redis-server, for the cluster contenders. */
  redisServer: string;
  /** Another build of pi-hub's CLI to measure (a branch's dist/broker/cli.js); null: this one. */
  hubCli: string | null;
  /** The agent's footprint: seconds of steady work measured, or 0 to skip it. */
  agentSeconds: number;
  /** An installed agent bundle to measure, or null: build the .deb's and unpack it. */
  agentBundle: string | null;
}

export const USAGE = `usage: npm run bench [-- --quick | --help]

  --quick                 a smoke run: 1 round, 1 s windows, 100 connections
environment (all optional):
  BENCH_ROUNDS=3          rounds; contenders alternate A B C, C B A, …
  BENCH_SECONDS=3         measured window per fan-in and round-trip point
  BENCH_WARMUP_MS=1000    load before each window
  BENCH_WINDOW=200        fan-in: in-flight messages per publisher (end to end)
  BENCH_RATE=1000         round trips: offered requests per second
  BENCH_CONNECTIONS=500   connection rate: connections per point (10 in flight)
  BENCH_QUIET_WAIT_MS=3000 before each point, wait up to this for the machine to be quiet
  BENCH_BUDGET_S=540      stop waiting for quiet and re-measuring noisy points past this projection
  BENCH_CONTENDERS=pi-hub,aedes,mosquitto,pi-hub-redis,pi-hub-redis2
                          (pi-hub-redis: one node with --cluster; pi-hub-redis2: two nodes on one Redis;
                          both only on QoS 1 fan-in and round trips)
  BENCH_WORKLOADS=fan-in,rtt,connect   (substrings of: ${WORKLOADS.map((w) => w.id).join(', ')})
  BENCH_NETNS=0           do not enter a private network namespace
  BENCH_PIN=0             do not pin brokers and generators to a CPU each (GC helper threads get both)
  BENCH_OUT=FILE          where the JSON results go
  BENCH_CPU_PROF=DIR      run pi-hub and bare Aedes under --cpu-prof, profiles in DIR
  BENCH_HUB_CLI=FILE      measure another pi-hub build (its dist/broker/cli.js) with this bench
  BENCH_AGENT_SECONDS=60  the agent's memory and CPU over this much steady work (0: skip)
  BENCH_AGENT_BUNDLE=FILE the installed agent to measure (/usr/lib/pi-agent/pi-agent.mjs); default: the
                          pi-agent .deb built from this checkout, unpacked into a temporary directory
  MOSQUITTO=/usr/sbin/mosquitto
  REDIS_SERVER=/usr/bin/redis-server
`;

export class OptionsError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new OptionsError(`${name}=${raw}: expected a number from ${min} to ${max}`);
  return n;
}

/** Null for --help (print USAGE). */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | null {
  if (argv.includes('--help') || argv.includes('-h')) return null;
  const unknown = argv.filter((a) => a !== '--quick');
  if (unknown.length > 0) throw new OptionsError(`unknown argument ${unknown[0]}`);
  const quick = argv.includes('--quick');

  const contenders = (env.BENCH_CONTENDERS ?? CONTENDERS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of contenders) {
    if (!(CONTENDERS as readonly string[]).includes(c)) throw new OptionsError(`BENCH_CONTENDERS: unknown contender ${c} (one of ${CONTENDERS.join(', ')})`);
  }
  const filters = env.BENCH_WORKLOADS ? env.BENCH_WORKLOADS.split(',').map((s) => s.trim()).filter(Boolean) : null;
  const workloads = filters ? WORKLOADS.filter((w) => filters.some((f) => w.id.includes(f))) : WORKLOADS;
  if (workloads.length === 0) throw new OptionsError(`BENCH_WORKLOADS=${env.BENCH_WORKLOADS} selects no workload`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    quick,
    rounds: int(env, 'BENCH_ROUNDS', quick ? 1 : 3, 1, 20),
    seconds: int(env, 'BENCH_SECONDS', quick ? 1 : 3, 0.2, 60),
    warmupMs: int(env, 'BENCH_WARMUP_MS', quick ? 300 : 1000, 0, 30_000),
    publishers: 10, // the hub's enrollment API lets one address enroll 10 devices at once
    payloadBytes: 100,
    window: int(env, 'BENCH_WINDOW', 200, 2, 10_000),
    rate: int(env, 'BENCH_RATE', 1000, 10, 20_000),
    connections: int(env, 'BENCH_CONNECTIONS', quick ? 100 : 500, 10, 5000),
    connConcurrency: 10,
    connectTimeLimitS: 30,
    quietWaitMs: int(env, 'BENCH_QUIET_WAIT_MS', quick ? 1000 : 3000, 0, 60_000),
    budgetS: int(env, 'BENCH_BUDGET_S', quick ? 120 : 540, 10, 36_000),
    contenders: contenders as ContenderName[],
    workloads,
    netns: env.BENCH_NETNS !== '0',
    out: env.BENCH_OUT ?? join(tmpdir(), `pifleet-bench-${stamp}.json`),
    cpuProfDir: env.BENCH_CPU_PROF || null,
    mosquitto: env.MOSQUITTO ?? '/usr/sbin/mosquitto',
    redisServer: env.REDIS_SERVER ?? '/usr/bin/redis-server',
    hubCli: env.BENCH_HUB_CLI || null,
    agentSeconds: int(env, 'BENCH_AGENT_SECONDS', quick ? 20 : 60, 0, 3600),
    agentBundle: env.BENCH_AGENT_BUNDLE || null,
  };
}
