// npm run bench: pi-hub against bare stock Aedes and Mosquitto, side by side in one run on this
// machine, following docs/BENCHMARKING.md: contenders alternate round by round (A B C, C B A, …),
// brokers on CPU 0, the generator on CPU 1, inside a private network namespace when possible.
// Prints medians [min–max], ratios of medians, CPU of both sides and the targets; writes the
// full results as JSON (named on the last line). It reports; it never fails the build.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { type AgentResult, measureAgent, renderAgent } from './agent.js';
import { GENERATOR_NOTE } from './clients.js';
import { type Contender, startContender } from './contenders.js';
import { type Fixture, prepareFixture, removeFixture } from './fixture.js';
import { type FleetResult, prepareFleet, runFleet } from './fleet/fleet.js';
import { FLEET_USAGE, type FleetOptions, parseFleetOptions } from './fleet/options.js';
import { renderFleet } from './fleet/report.js';
import { BROKER_CPU, GENERATOR_CPU, cpuCount, inNetns, netnsAvailable, pinGenerator, relaunch } from './isolate.js';
import { type BenchOptions, type ContenderName, OptionsError, USAGE, parseOptions } from './options.js';
import { cells, clusterRatios, evaluateTargets, renderText } from './report.js';
import { runRounds } from './rounds.js';
import { describeSource, inSnapshot, takeSnapshot } from './snapshot.js';
import { packageVersion } from './versions.js';

const say = (s: string) => process.stdout.write(s + '\n');
const progress = (s: string) => process.stderr.write(s + '\n');

async function main(): Promise<number> {
  let o: BenchOptions | null;
  let fleetO: FleetOptions;
  try {
    o = parseOptions(process.argv.slice(2), process.env);
    if (!o) { process.stdout.write(USAGE + FLEET_USAGE); return 0; }
    fleetO = parseFleetOptions(process.env, o.quick, (m) => new OptionsError(m));
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    process.stderr.write(`bench: ${err.message}\n${USAGE}${FLEET_USAGE}`);
    return 2;
  }
  if (!inSnapshot()) {
    const snapshot = takeSnapshot();
    try {
      return await relaunch(snapshot.entry, snapshot.env, o.netns && netnsAvailable());
    } finally {
      snapshot.remove();
    }
  }
  const pin = pinGenerator();
  const t0 = Date.now();

  const isolation = inNetns() ? 'private network namespace (unshare -n), loopback only' : 'no private namespace (unshare -n unavailable or BENCH_NETNS=0): 127.0.0.1 only';
  const pinning = pin ? `brokers pinned to CPU ${BROKER_CPU}, generator to CPU ${GENERATOR_CPU} (taskset)` : `not pinned (${cpuCount()} CPU(s) or no taskset)`;
  say(`pifleet bench — ${new Date().toISOString()} — node ${process.version}, ${cpuCount()} × ${cpus()[0]?.model ?? 'cpu'}`);
  const source = describeSource();
  say(`code: ${source}, built by npm run bench and copied aside for the run (others rebuilding dist/ cannot change it)`);
  say(`${isolation}; ${pinning}`);
  say(`${GENERATOR_NOTE}`);
  say(`${o.rounds} round(s), ${o.seconds} s windows after ${o.warmupMs} ms warm-up; fan-in: ${o.publishers} publishers → 1 subscriber on devices/#, ${o.payloadBytes}-byte stats payloads, ${o.window} in flight per publisher end to end; rtt: ${o.rate} req/s offered, QoS 1; connect: ${o.connections} connections, ${o.connConcurrency} in flight`);
  say(`aedes ${packageVersion('aedes')}, mqtt ${packageVersion('mqtt')}, ws ${packageVersion('ws')}; TLS 1.3, ECDSA P-256 certificates from one pi-hub CA for all contenders`);

  const contenders: Contender[] = [];
  const skipped: string[] = [];
  let fixture: Fixture | null = null;
  let stopping = false;
  const cleanup = async () => {
    for (const c of contenders.splice(0)) await c.stop().catch(() => {});
    if (fixture) removeFixture(fixture);
    fixture = null;
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    progress(`bench: ${sig}, stopping the brokers`);
    void cleanup().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    progress('setting up: a pi-hub data directory, a user certificate, 10 devices enrolled through the API …');
    fixture = await prepareFixture(o.publishers);
    for (const name of o.contenders) {
      const c = await startContender(name, fixture, o, pin);
      if (typeof c === 'string') { skipped.push(c); say(`note: ${c}`); continue; }
      contenders.push(c);
      progress(`started ${c.label} (pid ${c.pid}) on ${c.listening.join(' ')}`);
    }
    const names = contenders.map((c) => c.name);
    const samples = await runRounds({ contenders: [...contenders], fixture, o, t0, progress, stopping: () => stopping });
    if (stopping) return 130;

    const labels: Record<string, string> = Object.fromEntries(contenders.map((c) => [c.name, c.label]));
    const cs = cells(samples, o.workloads, names as ContenderName[], pin ? { broker: BROKER_CPU, generator: GENERATOR_CPU } : null);
    const targets = evaluateTargets(cs, samples);
    say('');
    say(renderText(cs, o.workloads, names as ContenderName[], labels, targets));
    const measured = contenders.map((c) => ({ name: c.name, label: c.label, listening: c.listening }));
    for (const c of contenders.splice(0)) await c.stop().catch(() => {}); // the brokers are done: a quiet machine for the agent
    let agent: AgentResult | null = null;
    if (o.agentSeconds > 0 && !stopping) {
      agent = await measureAgent(fixture, o.agentSeconds, progress, o.agentBundle);
      say('');
      say(renderAgent(agent));
    }
    let fleet: { results: FleetResult[]; skipped: string[] } | null = null;
    if (fleetO.size > 0 && !stopping) {
      progress(`fleet: ${fleetO.size} Pis enrolled in bulk (bench/fleet/enroll-bulk.ts) …`);
      fleet = await runFleet(fixture, await prepareFleet(fixture, fleetO.size), fleetO, o, pin, progress, () => stopping);
      say('');
      say(renderFleet(fleet.results, fleet.skipped));
    }
    const elapsedS = Math.round((Date.now() - t0) / 1000);
    say(`\n${o.rounds} round(s) in ${elapsedS} s. The bench reports; it does not fail the build.`);

    writeFileSync(o.out, JSON.stringify({
      meta: {
        date: new Date(t0).toISOString(), elapsedS, node: process.version, cpus: cpuCount(), cpuModel: cpus()[0]?.model,
        source, isolation, pinning, generator: GENERATOR_NOTE,
        versions: { aedes: packageVersion('aedes'), mqtt: packageVersion('mqtt'), ws: packageVersion('ws') },
      },
      options: { ...o, workloads: o.workloads.map((w) => w.id) },
      contenders: measured,
      skipped, samples, summary: cs, targets, cluster: clusterRatios(cs, o.workloads), agent, fleet: fleet ? { options: fleetO, ...fleet } : null,
    }, null, 2) + '\n');
    say(`full results: ${o.out}`);
    return 0;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.message}\n`);
    process.exit(1);
  },
);
