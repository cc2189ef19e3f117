// The agent's footprint: resident memory after a minute of steady work (stats every 5 s from
// systeminformation, a command every 10 s) and CPU time per minute, each next to a bare `node`
// process measured in the same run. The agent runs exactly as systemd/pi-agent.service runs it: with
// that unit's Environment= lines (V8 and glibc settings) — and a bare node is shown both with and
// without them, so the flags' share is visible.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import type { Fixture } from './fixture.js';
import { AGENT_CLI, Daemon, HUB_CLI, ROOT, run, runOk, startHub } from './harness.js';
import { cpuSeconds, rssBytes } from './proc.js';

export interface AgentResult {
  seconds: number;
  unitEnv: Record<string, string>;
  agent: { rssMB: number; cpuS: number };
  bareNode: { rssMB: number; cpuS: number };
  bareNodeUnitEnv: { rssMB: number; cpuS: number };
  commands: { sent: number; answered: number };
  rssRatio: number;
  rssRatioSameFlags: number;
  cpuPctOfCore: number;
  targets: Array<{ name: string; value: string; pass: boolean }>;
}

/** The Environment= assignments of the shipped unit (NAME=value pairs, several per line allowed). */
export function unitEnvironment(unitText: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unitText.split('\n')) {
    const m = /^Environment=(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const pair of m[1]!.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []) {
      const i = pair.indexOf('=');
      if (i > 0) env[pair.slice(0, i)] = pair.slice(i + 1).replace(/^"|"$/g, '');
    }
  }
  return env;
}

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measureAgent(f: Fixture, seconds: number, progress: (s: string) => void): Promise<AgentResult> {
  const unitEnv = unitEnvironment(readFileSync(join(ROOT, 'systemd', 'pi-agent.service'), 'utf8'));
  delete unitEnv.PI_AGENT_CONFIG_DIR;
  const configDir = mkdtempSync(join(tmpdir(), 'pifleet-bench-agent-'));
  const procs: Daemon[] = [];
  let owner: mqtt.MqttClient | null = null;
  try {
    const hub = await startHub(f.dataDir);
    procs.push(hub.daemon);
    const key = (await runOk(HUB_CLI, ['apikey', 'create', '--user', 'bench', '--data-dir', f.dataDir])).trim();
    const c = await run(AGENT_CLI, ['connect', '--hub', `https://localhost:${hub.port}`, '--api-key', '-', '--fingerprint', hub.fingerprint, '--serial', 'bench-agent', '--config-dir', configDir], { stdin: key });
    if (c.code !== 0) throw new Error(`pi-agent connect: ${c.stderr}`);
    const cfg = JSON.parse(readFileSync(join(configDir, 'agent.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(configDir, 'agent.json'), JSON.stringify({ ...cfg, statsIntervalSec: 5, defaultUser: 'nobody' }));
    rmSync(join(configDir, 'modules', 'core.json')); // never a real reboot
    writeFileSync(join(configDir, 'modules', 'bench.json'), JSON.stringify({ id: 'bench', title: 'Bench', commands: { hello: { title: 'Hello', run: ['/bin/echo', 'hello'] } } }));

    const agent = Daemon.start(AGENT_CLI, ['run', '--config-dir', configDir], 'pi-agent', unitEnv);
    const bare = Daemon.start('-e', ['setInterval(() => {}, 1e9)'], 'node');
    const bareUnit = Daemon.start('-e', ['setInterval(() => {}, 1e9)'], 'node (unit env)', unitEnv);
    procs.push(agent, bare, bareUnit);
    await agent.waitForLine(/pi-agent: online/, 30_000, 0);

    owner = await mqtt.connectAsync(`mqtts://127.0.0.1:${hub.mqttsPort}`, {
      protocolVersion: 4, key: f.user.key, cert: f.user.cert, ca: f.caPem, servername: 'localhost', reconnectPeriod: 0,
    });
    let answered = 0;
    owner.on('message', () => { answered++; });
    await owner.subscribeAsync('devices/bench-agent/cmd/res/+', { qos: 1 });

    await sleep(5_000); // past the first, slowest sample
    progress(`agent: ${seconds} s of steady work (stats every 5 s, a command every 10 s) next to a bare node`);
    const cpu0 = [agent, bare, bareUnit].map((d) => cpuSeconds(d.pid));
    let sent = 0;
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      owner.publish('devices/bench-agent/cmd/req', JSON.stringify({ v: 1, id: `b${sent++}`, module: 'bench', command: 'hello' }), { qos: 1 });
      await sleep(Math.min(10_000, Math.max(0, end - Date.now())));
    }
    const cpu = [agent, bare, bareUnit].map((d, i) => cpuSeconds(d.pid) - cpu0[i]!);
    const rss = [agent, bare, bareUnit].map((d) => rssBytes(d.pid) / MB);
    const perMinute = (s: number) => (s * 60) / seconds;
    const r: AgentResult = {
      seconds, unitEnv,
      agent: { rssMB: rss[0]!, cpuS: perMinute(cpu[0]!) },
      bareNode: { rssMB: rss[1]!, cpuS: perMinute(cpu[1]!) },
      bareNodeUnitEnv: { rssMB: rss[2]!, cpuS: perMinute(cpu[2]!) },
      commands: { sent, answered },
      rssRatio: rss[0]! / rss[1]!,
      rssRatioSameFlags: rss[0]! / rss[2]!,
      cpuPctOfCore: (cpu[0]! / seconds) * 100,
      targets: [],
    };
    r.targets = [
      { name: 'agent RSS ≤ 1.3× bare node', value: `${r.rssRatio.toFixed(2)}×`, pass: r.rssRatio <= 1.3 },
      { name: 'agent CPU < 1% of one core', value: `${r.cpuPctOfCore.toFixed(2)}%`, pass: r.cpuPctOfCore < 1 },
    ];
    return r;
  } finally {
    owner?.end(true);
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    rmSync(configDir, { recursive: true, force: true });
  }
}

export function renderAgent(r: AgentResult): string {
  const env = Object.entries(r.unitEnv).map(([k, v]) => `${k}=${v}`).join(' ');
  const row = (name: string, x: { rssMB: number; cpuS: number }) =>
    `  ${name.padEnd(28)} ${x.rssMB.toFixed(1).padStart(6)} MB   ${x.cpuS.toFixed(2).padStart(5)} s CPU per minute`;
  return [
    `agent footprint (${r.seconds} s of steady work; the agent runs with the unit's ${env || 'environment'})`,
    row('pi-agent run', r.agent),
    row('bare node', r.bareNode),
    row('bare node, same environment', r.bareNodeUnitEnv),
    `  agent / bare node: RSS ${r.rssRatio.toFixed(2)}× (${r.rssRatioSameFlags.toFixed(2)}× with the same environment); CPU ${r.cpuPctOfCore.toFixed(2)}% of one core; ${r.commands.answered}/${r.commands.sent} commands answered`,
    ...r.targets.map((t) => `  target ${t.name}: ${t.value} ${t.pass ? 'PASS' : 'MISS'}`),
  ].join('\n');
}

// For `node dist/bench/agent.js`: this measurement alone.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { prepareFixture, removeFixture } = await import('./fixture.js');
  const f = await prepareFixture(1);
  try {
    process.stdout.write(renderAgent(await measureAgent(f, Number(process.env.BENCH_AGENT_SECONDS ?? 60), (s) => process.stderr.write(s + '\n'))) + '\n');
  } finally {
    removeFixture(f);
  }
}
