// Where the bench runs: in a private network namespace when possible (nothing else on the machine can
// reach its ports, and Debian's Mosquitto cannot leak onto a real interface), with the brokers pinned
// to CPU 0 and the generator (this process and its children) to CPU 1 (docs/BENCHMARKING.md).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { cpus } from 'node:os';

export const BROKER_CPU = 0;
export const GENERATOR_CPU = 1;
const IN_NETNS = 'PIFLEET_BENCH_IN_NETNS';

const works = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
};

export function netnsAvailable(): boolean {
  return works('unshare', ['-n', 'sh', '-c', 'ip link set lo up']);
}

/**
 * Runs `entry` (with this program's arguments) as a child — inside `unshare -n` with the loopback up
 * when `netns` — and resolves with its exit code.
 */
export async function relaunch(entry: string, env: NodeJS.ProcessEnv, netns: boolean): Promise<number> {
  const node = [process.execPath, ...process.execArgv, entry, ...process.argv.slice(2)];
  const [cmd, args] = netns ? ['unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...node]] as const : [node[0]!, node.slice(1)] as const;
  const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env, ...(netns ? { [IN_NETNS]: '1' } : {}) } });
  // The terminal's Ctrl-C reaches the child too (same process group); it cleans up and exits.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  const [code, signal] = await once(child, 'exit') as [number | null, NodeJS.Signals | null];
  return code ?? (signal ? 128 + 15 : 1);
}

export const inNetns = () => process.env[IN_NETNS] === '1';

/** Online CPUs (not availableParallelism(): that is this process's affinity, 1 once pinned). */
export const cpuCount = () => cpus().length;

/**
 * Pins this process (and so the generators it forks) to the generator's CPU, if the broker's CPU can
 * be used too; false when there are fewer than 2 CPUs or no taskset.
 */
export function pinGenerator(): boolean {
  if (process.env.BENCH_PIN === '0') return false; // brokers and generators share every CPU, as a hub's host would
  if (cpuCount() < 2 || !works('taskset', ['-c', String(BROKER_CPU), 'true'])) return false;
  return works('taskset', ['-a', '-p', '-c', String(GENERATOR_CPU), String(process.pid)]);
}

/** Spawns a broker on the broker's CPU (taskset execs it, so the child's pid is the broker's). */
export function spawnBroker(file: string, args: string[], pin: boolean, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const [cmd, argv] = pin ? ['taskset', ['-c', String(BROKER_CPU), file, ...args]] as const : [file, args] as const;
  return spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
}

/** A TCP port free on 127.0.0.1 right now (for Mosquitto, which cannot listen on port 0). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Every listening socket of these processes, from `ss -ltnp`; throws if one listens anywhere but
 * 127.0.0.1 (docs/BENCHMARKING.md: Debian's Mosquitto ignores the bind address of a WebSocket listener
 * unless `socket_domain ipv4` is set).
 */
export function assertLoopbackOnly(pids: number[]): string[] {
  const r = spawnSync('ss', ['-ltnpH'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot check listening sockets: ss failed: ${r.stderr}`);
  const mine = r.stdout.split('\n').filter((l) => pids.some((p) => l.includes(`pid=${p},`)));
  const local = mine.map((l) => l.trim().split(/\s+/)[3] ?? '');
  const bad = local.filter((a) => !a.startsWith('127.0.0.1:'));
  if (bad.length > 0) throw new Error(`a broker listens beyond 127.0.0.1: ${bad.join(', ')} — aborting`);
  return local;
}
