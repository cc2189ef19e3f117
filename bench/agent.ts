// The agent's footprint: resident memory after a minute of steady work (stats every 5 s from
// /proc, a command every 10 s) and CPU time per minute, each next to a bare `node`
// process measured in the same run, and its cold start (launch → online). Measured twice side by side:
// the bundle as the .deb installs it (agent-bundle.ts; the target is its) and dist/ as a checkout runs
// it. The agents run exactly as systemd/pi-agent.service runs them: with that unit's Environment=
// lines (V8 and glibc settings) — and a bare node is shown both with and without them, so the flags'
// share is visible.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import type { Fixture } from './fixture.js';
import { prepareAgentBundle } from './agent-bundle.js';
import { AGENT_CLI, Daemon, HUB_CLI, ROOT, run, runOk, startHub } from './harness.js';
import { cpuSeconds, rssBytes } from './proc.js';

export interface Footprint { rssMB: number; cpuS: number }
export interface Spread { median: number; min: number; max: number }

export interface AgentResult {
  seconds: number;
  unitEnv: Record<string, string>;
  /** ExecStart's node flags, given to the agents and to the bare node with the unit's environment. */
  unitFlags: string[];
  /** dist/agent/cli.js, as a checkout runs it. */
  agent: Footprint;
  /** The bundle as the .deb installs it (null when it could not be built: bundleSkipped says why). */
  bundle: (Footprint & { source: string }) | null;
  bundleSkipped?: string;
  bareNode: Footprint;
  bareNodeUnitEnv: Footprint;
  commands: { sent: number; answered: number };
  rssRatio: number;
  rssRatioSameFlags: number;
  bundleRssRatio: number | null;
  bundleRssRatioSameFlags: number | null;
  cpuPctOfCore: number;
  bundleCpuPctOfCore: number | null;
  /** Launch → `online`, with the unit's environment, hub already running. */
  coldStartMs: { agent: Spread; bundle: Spread | null };
  targets: Array<{ name: string; value: string; pass: boolean }>;
}

/** The node flags of the shipped unit's ExecStart= (`/usr/bin/node FLAGS… SCRIPT run`). */
export function unitNodeFlags(unitText: string): string[] {
  const m = /^ExecStart=\/usr\/bin\/node((?: --\S+)*) \S/m.exec(unitText);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
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

const spread = (xs: number[]): Spread => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted[sorted.length - 1]! };
};

/** Fresh launches of `script` until it says `online`, one at a time, each stopped before the next. */
async function coldStarts(script: string, configDir: string, env: Record<string, string>, flags: string[], times: number): Promise<Spread> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const d = Daemon.start(script, ['run', '--config-dir', configDir], 'pi-agent (cold start)', env, flags);
    try {
      await d.waitForLine(/pi-agent: online/, 30_000);
      ms.push(performance.now() - t0);
    } finally {
      await d.stop();
    }
  }
  return spread(ms);
}

export async function measureAgent(f: Fixture, seconds: number, progress: (s: string) => void, bundleFile: string | null = null): Promise<AgentResult> {
  const unitText = readFileSync(join(ROOT, 'systemd', 'pi-agent.service'), 'utf8');
  const unitEnv = unitEnvironment(unitText);
  const unitFlags = unitNodeFlags(unitText);
  delete unitEnv.PI_AGENT_CONFIG_DIR;
  const dirs: string[] = [];
  const procs: Daemon[] = [];
  let owner: mqtt.MqttClient | null = null;
  const prepared = await prepareAgentBundle(bundleFile);
  try {
    const hub = await startHub(f.dataDir);
    procs.push(hub.daemon);
    /** A connected config directory for `serial`, as the test harness sets one up. */
    const connect = async (serial: string) => {
      const configDir = mkdtempSync(join(tmpdir(), 'pifleet-bench-agent-'));
      dirs.push(configDir);
      const key = (await runOk(HUB_CLI, ['apikey', 'create', '--user', 'bench', '--data-dir', f.dataDir])).trim();
      const c = await run(AGENT_CLI, ['connect', '--hub', `https://localhost:${hub.port}`, '--api-key', '-', '--fingerprint', hub.fingerprint, '--serial', serial, '--config-dir', configDir], { stdin: key });
      if (c.code !== 0) throw new Error(`pi-agent connect: ${c.stderr}`);
      const cfg = JSON.parse(readFileSync(join(configDir, 'agent.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(configDir, 'agent.json'), JSON.stringify({ ...cfg, statsIntervalSec: 5, defaultUser: 'nobody' }));
      rmSync(join(configDir, 'modules', 'core.json')); // never a real reboot
      writeFileSync(join(configDir, 'modules', 'bench.json'), JSON.stringify({ id: 'bench', title: 'Bench', commands: { hello: { title: 'Hello', run: ['/bin/echo', 'hello'] } } }));
      return configDir;
    };
    const variants = [{ serial: 'bench-agent', script: AGENT_CLI }];
    if ('file' in prepared) variants.push({ serial: 'bench-bundle', script: prepared.file });
    const configs = await Promise.all(variants.map((v) => connect(v.serial)));

    const launches = seconds >= 60 ? 5 : 3;
    progress(`agent: ${launches} cold starts each of ${variants.map((v) => v.serial).join(' and ')} (launch → online)`);
    const cold: Spread[] = [];
    for (const [i, v] of variants.entries()) cold.push(await coldStarts(v.script, configs[i]!, unitEnv, unitFlags, launches));

    const agents = variants.map((v, i) => Daemon.start(v.script, ['run', '--config-dir', configs[i]!], v.serial, unitEnv, unitFlags));
    const bare = Daemon.start('-e', ['setInterval(() => {}, 1e9)'], 'node');
    const bareUnit = Daemon.start('-e', ['setInterval(() => {}, 1e9)'], 'node (unit env)', unitEnv, unitFlags);
    const measured = [...agents, bare, bareUnit];
    procs.push(...measured);
    for (const a of agents) await a.waitForLine(/pi-agent: online/, 30_000, 0);

    owner = await mqtt.connectAsync(`mqtts://127.0.0.1:${hub.mqttsPort}`, {
      protocolVersion: 4, key: f.user.key, cert: f.user.cert, ca: f.caPem, servername: 'localhost', reconnectPeriod: 0,
    });
    let answered = 0;
    owner.on('message', () => { answered++; });
    await owner.subscribeAsync(variants.map((v) => `devices/${v.serial}/cmd/res/+`), { qos: 1 });

    await sleep(5_000); // past the first, slowest sample
    progress(`agent: ${seconds} s of steady work (stats every 5 s, a command every 10 s) next to a bare node`);
    const cpu0 = measured.map((d) => cpuSeconds(d.pid));
    let sent = 0;
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      for (const v of variants) owner.publish(`devices/${v.serial}/cmd/req`, JSON.stringify({ v: 1, id: `b${sent++}`, module: 'bench', command: 'hello' }), { qos: 1 });
      await sleep(Math.min(10_000, Math.max(0, end - Date.now())));
    }
    const perMinute = (s: number) => (s * 60) / seconds;
    const fp = measured.map((d, i): Footprint => ({ rssMB: rssBytes(d.pid) / MB, cpuS: perMinute(cpuSeconds(d.pid) - cpu0[i]!) }));
    const [agentFp, bundleFp] = [fp[0]!, 'file' in prepared ? fp[1]! : null];
    const [bareFp, bareUnitFp] = [fp[fp.length - 2]!, fp[fp.length - 1]!];
    const r: AgentResult = {
      seconds, unitEnv, unitFlags,
      agent: agentFp,
      bundle: bundleFp && 'file' in prepared ? { ...bundleFp, source: prepared.source } : null,
      ...('skipped' in prepared ? { bundleSkipped: prepared.skipped } : {}),
      bareNode: bareFp,
      bareNodeUnitEnv: bareUnitFp,
      commands: { sent, answered },
      rssRatio: agentFp.rssMB / bareFp.rssMB,
      rssRatioSameFlags: agentFp.rssMB / bareUnitFp.rssMB,
      bundleRssRatio: bundleFp ? bundleFp.rssMB / bareFp.rssMB : null,
      bundleRssRatioSameFlags: bundleFp ? bundleFp.rssMB / bareUnitFp.rssMB : null,
      cpuPctOfCore: (agentFp.cpuS / 60) * 100,
      bundleCpuPctOfCore: bundleFp ? (bundleFp.cpuS / 60) * 100 : null,
      coldStartMs: { agent: cold[0]!, bundle: cold[1] ?? null },
      targets: [],
    };
    // The target is the installed agent's: the bundle next to a bare node of the same version with the
    // unit's environment (the dist/ figures stay for comparison).
    const ratio = r.bundleRssRatioSameFlags ?? r.rssRatioSameFlags;
    const cpu = r.bundleCpuPctOfCore ?? r.cpuPctOfCore;
    const who = r.bundle ? 'installed bundle' : 'dist/, no bundle';
    r.targets = [
      { name: `agent RSS ≤ 1.3× bare node, same environment (${who})`, value: `${ratio.toFixed(2)}×`, pass: ratio <= 1.3 },
      { name: `agent CPU < 1% of one core (${who})`, value: `${cpu.toFixed(2)}%`, pass: cpu < 1 },
    ];
    return r;
  } finally {
    owner?.end(true);
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    if ('remove' in prepared) prepared.remove();
  }
}

export function renderAgent(r: AgentResult): string {
  const env = [...Object.entries(r.unitEnv).map(([k, v]) => `${k}=${v}`), ...r.unitFlags].join(' ');
  const row = (name: string, x: Footprint, cold?: Spread | null) =>
    `  ${name.padEnd(30)} ${x.rssMB.toFixed(1).padStart(6)} MB   ${x.cpuS.toFixed(2).padStart(5)} s CPU per minute` +
    (cold ? `   cold start ${cold.median.toFixed(0)} ms [${cold.min.toFixed(0)}–${cold.max.toFixed(0)}]` : '');
  return [
    `agent footprint (${r.seconds} s of steady work; the agents run with the unit's ${env || 'environment'})`,
    ...(r.bundle ? [row('pi-agent, bundle as installed', r.bundle, r.coldStartMs.bundle)] : [`  bundle: skipped: ${r.bundleSkipped}`]),
    row('pi-agent from dist/', r.agent, r.coldStartMs.agent),
    row('bare node', r.bareNode),
    row('bare node, same environment', r.bareNodeUnitEnv),
    ...(r.bundle ? [`  bundle: ${r.bundle.source}`,
      `  bundle / bare node: RSS ${r.bundleRssRatio!.toFixed(2)}× (${r.bundleRssRatioSameFlags!.toFixed(2)}× with the same environment); CPU ${r.bundleCpuPctOfCore!.toFixed(2)}% of one core`] : []),
    `  dist/ / bare node: RSS ${r.rssRatio.toFixed(2)}× (${r.rssRatioSameFlags.toFixed(2)}× with the same environment); CPU ${r.cpuPctOfCore.toFixed(2)}% of one core; ${r.commands.answered}/${r.commands.sent} commands answered`,
    ...r.targets.map((t) => `  target ${t.name}: ${t.value} ${t.pass ? 'PASS' : 'MISS'}`),
  ].join('\n');
}

// For `node dist/bench/agent.js`: this measurement alone.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { prepareFixture, removeFixture } = await import('./fixture.js');
  const f = await prepareFixture(1);
  try {
    process.stdout.write(renderAgent(await measureAgent(f, Number(process.env.BENCH_AGENT_SECONDS ?? 60), (s) => process.stderr.write(s + '\n'), process.env.BENCH_AGENT_BUNDLE || null)) + '\n');
  } finally {
    removeFixture(f);
  }
}
