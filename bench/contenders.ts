// The three brokers under test, each a separate process on the broker's CPU, all with the same
// certificates (issued by one pi-hub CA) and the same endpoints shape:
//
// - pi-hub: the real `pi-hub serve`, with a user and 10 devices enrolled through its API, on its default
//   persistence (SQLite, mqtt.db);
// - pi-hub-memory: the same hub on a copy of that data directory with hub.json "mqttPersistence":
//   "memory" (what every session, queue and retained message cost before mqtt.db);
// - aedes: bench/aedes-server.ts, stock Aedes with no hooks and stock WebSocket streams;
// - mosquitto: the Debian package, configured by bench/mosquitto.ts;
// - pi-hub-redis, pi-hub-redis2: `pi-hub serve --cluster`, one node and two nodes on one data directory,
//   sharing Debian's redis-server; every process of the broker side (nodes and Redis) on the broker's CPU.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Database from 'better-sqlite3';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Endpoints } from './clients.js';
import type { Fixture } from './fixture.js';
import { Daemon, HUB_CLI, HUB_LISTENING, TestRedis, redisMissing } from './harness.js';
import { BROKER_CPU, assertLoopbackOnly, freePort, spawnBroker } from './isolate.js';
import { mosquittoVersion, writeMosquittoConfig } from './mosquitto.js';
import type { BenchOptions, ContenderName } from './options.js';
import { packageVersion } from './versions.js';

const AEDES_SERVER = fileURLToPath(new URL('./aedes-server.js', import.meta.url));

export interface Contender {
  name: ContenderName;
  label: string;
  pid: number;
  /** Every process of the broker side, whose CPU and memory count as the broker's. */
  pids: number[];
  endpoints: Endpoints;
  /** Listening addresses, as checked with ss. */
  listening: string[];
  /** The broker's last log lines (for a failed point). */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

const endpoints = (f: Fixture, wssUrl: string, mqttsPort: number): Endpoints => ({
  wssUrl, mqttsPort, host: '127.0.0.1', ca: f.caPem, servername: 'localhost',
});

function nodeFlags(o: BenchOptions): string[] {
  return o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
}

async function started(daemon: Daemon, name: ContenderName, label: string, re: RegExp, toEndpoints: (m: RegExpExecArray) => Endpoints): Promise<Contender> {
  let m: RegExpExecArray;
  try {
    m = await daemon.waitForLine(re, 30_000, 0);
  } catch (err) {
    await daemon.stop('SIGKILL');
    throw err;
  }
  const contender: Contender = {
    name, label, pid: daemon.pid, pids: [daemon.pid], endpoints: toEndpoints(m), listening: [],
    logTail: (n = 20) => daemon.output.slice(-n).join('\n'),
    stop: async () => { await daemon.stop(); },
  };
  try {
    contender.listening = assertLoopbackOnly([daemon.pid]);
  } catch (err) {
    await daemon.stop('SIGKILL');
    throw err;
  }
  return contender;
}

/**
 * hub.json for the bench's hubs: a persistent session's queue holds what is in flight to it, up to
 * 10 publishers × the fan-in window (2,000 by default), above the default bound of 1,000 messages.
 */
const BENCH_HUB_JSON = { maxQueuedMessages: 100_000 };

export async function startPiHub(f: Fixture, o: BenchOptions, pin: boolean): Promise<Contender> {
  writeFileSync(join(f.dataDir, 'hub.json'), JSON.stringify(BENCH_HUB_JSON));
  const args = [...nodeFlags(o), o.hubCli ?? HUB_CLI, 'serve', '--data-dir', f.dataDir, '--host', '127.0.0.1', '--port', '0', '--mqtts-port', '0'];
  const daemon = new Daemon(spawnBroker(process.execPath, args, pin), 'pi-hub');
  return started(daemon, 'pi-hub', o.hubCli ? `pi-hub (${o.hubCli})` : 'pi-hub (SQLite)', HUB_LISTENING,
    (m) => endpoints(f, `wss://127.0.0.1:${m[1]}/mqtt`, Number(m[2])));
}

/** The same hub on a copy of the fixture's data directory (same CA, users and devices), in memory. */
export async function startPiHubMemory(f: Fixture, o: BenchOptions, pin: boolean): Promise<Contender> {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-bench-hub-memory-'));
  const db = new Database(join(f.dataDir, 'hub.db'), { readonly: true });
  try {
    await db.backup(join(dir, 'hub.db')); // a consistent copy, also while the other hub has it open
  } finally {
    db.close();
  }
  for (const sub of ['ca', 'tls']) cpSync(join(f.dataDir, sub), join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'hub.json'), JSON.stringify({ ...BENCH_HUB_JSON, mqttPersistence: 'memory' }));
  const args = [...nodeFlags(o), o.hubCli ?? HUB_CLI, 'serve', '--data-dir', dir, '--host', '127.0.0.1', '--port', '0', '--mqtts-port', '0'];
  const daemon = new Daemon(spawnBroker(process.execPath, args, pin), 'pi-hub-memory');
  const c = await started(daemon, 'pi-hub-memory', 'pi-hub (memory)', HUB_LISTENING,
    (m) => endpoints(f, `wss://127.0.0.1:${m[1]}/mqtt`, Number(m[2])));
  return { ...c, stop: async () => { await c.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

export async function startAedes(f: Fixture, o: BenchOptions, pin: boolean): Promise<Contender> {
  const caFile = join(f.dataDir, 'bench-ca.pem');
  writeFileSync(caFile, f.caPem);
  const args = [...nodeFlags(o), AEDES_SERVER, '--key', f.serverKey, '--cert', f.serverCert, '--ca', caFile];
  const daemon = new Daemon(spawnBroker(process.execPath, args, pin), 'aedes');
  return started(daemon, 'aedes', `bare Aedes ${packageVersion('aedes')}`, /listening (wss:\S+) mqtts:\/\/127\.0\.0\.1:(\d+)/,
    (m) => endpoints(f, m[1]!, Number(m[2])));
}

export async function startMosquitto(f: Fixture, o: BenchOptions, pin: boolean): Promise<Contender | string> {
  const version = mosquittoVersion(o.mosquitto);
  if (!version) return `${o.mosquitto} is not installed: Mosquitto skipped`;
  const wsPort = await freePort();
  const mqttsPort = await freePort();
  const { dir, conf } = writeMosquittoConfig({ caPem: f.caPem, serverCert: f.serverCert, serverKey: f.serverKey }, wsPort, mqttsPort);
  const daemon = new Daemon(spawnBroker(o.mosquitto, ['-c', conf], pin), 'mosquitto');
  // Mosquitto prints nothing when it is ready: wait for both ports to accept.
  const accepts = (port: number) => new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  const end = Date.now() + 10_000;
  while (!((await accepts(wsPort)) && (await accepts(mqttsPort)))) {
    if (!daemon.running || Date.now() > end) {
      await daemon.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mosquitto did not start: ${daemon.log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let listening: string[];
  try {
    listening = assertLoopbackOnly([daemon.pid]);
  } catch (err) {
    await daemon.stop('SIGKILL');
    throw err;
  }
  return {
    name: 'mosquitto', label: `Mosquitto ${version}`, pid: daemon.pid, pids: [daemon.pid], listening,
    endpoints: endpoints(f, `wss://127.0.0.1:${wsPort}/mqtt`, mqttsPort),
    logTail: (n = 20) => daemon.output.slice(-n).join('\n'),
    stop: async () => {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `nodes` pi-hub nodes with --cluster on the fixture's data directory and one Redis, all on the broker's CPU. */
export async function startPiHubCluster(f: Fixture, o: BenchOptions, pin: boolean, nodes: 1 | 2): Promise<Contender | string> {
  const missing = redisMissing();
  if (missing) return `${missing}: the cluster contenders skipped`;
  const redis = await TestRedis.start({ taskset: pin ? ['-c', String(BROKER_CPU)] : [] });
  const nodesUp: Contender[] = [];
  try {
    for (let i = 0; i < nodes; i++) {
      const args = [...nodeFlags(o), o.hubCli ?? HUB_CLI, 'serve', '--data-dir', f.dataDir, '--host', '127.0.0.1', '--port', '0', '--mqtts-port', '0', '--cluster', redis.url];
      const daemon = new Daemon(spawnBroker(process.execPath, args, pin), `pi-hub node ${i + 1}`);
      nodesUp.push(await startedNode(daemon, f));
    }
  } catch (err) {
    for (const c of nodesUp) await c.stop();
    await redis.remove();
    throw err;
  }
  const [a, b] = nodesUp as [Contender, Contender | undefined];
  const name: ContenderName = nodes === 1 ? 'pi-hub-redis' : 'pi-hub-redis2';
  return {
    name, label: nodes === 1 ? 'pi-hub, 1 node on Redis' : 'pi-hub, 2 nodes on Redis', pid: a.pid,
    pids: [...nodesUp.map((c) => c.pid), redis.daemon.pid],
    endpoints: b ? { ...a.endpoints, alt: { wssUrl: b.endpoints.wssUrl, mqttsPort: b.endpoints.mqttsPort } } : a.endpoints,
    listening: [...nodesUp.flatMap((c) => c.listening), ...assertLoopbackOnly([redis.daemon.pid])],
    logTail: (n = 20) => nodesUp.map((c) => c.logTail(n)).join('\n'),
    stop: async () => {
      for (const c of nodesUp) await c.stop();
      await redis.remove();
    },
  };
}

function startedNode(daemon: Daemon, f: Fixture): Promise<Contender> {
  return started(daemon, 'pi-hub', 'pi-hub', HUB_LISTENING, (m) => endpoints(f, `wss://127.0.0.1:${m[1]}/mqtt`, Number(m[2])));
}

export function startContender(name: ContenderName, f: Fixture, o: BenchOptions, pin: boolean): Promise<Contender | string> {
  switch (name) {
    case 'pi-hub': return startPiHub(f, o, pin);
    case 'pi-hub-memory': return startPiHubMemory(f, o, pin);
    case 'aedes': return startAedes(f, o, pin);
    case 'mosquitto': return startMosquitto(f, o, pin);
    case 'pi-hub-redis': return startPiHubCluster(f, o, pin, 1);
    case 'pi-hub-redis2': return startPiHubCluster(f, o, pin, 2);
  }
}
