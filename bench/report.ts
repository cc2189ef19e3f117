// From per-round samples to the printed tables and the JSON summary: medians with [min–max], ratios of
// medians, which side saturated, and the issue's targets with PASS/MISS. Pure (returns strings).
import { CLUSTER_CONTENDERS, type ContenderName, type Workload } from './options.js';
import { type Summary, fmtNum, fmtSummary, ratio, summarize } from './stats.js';
import type { Result } from './workloads.js';

export interface Sample {
  round: number; workload: string; contender: ContenderName; result?: Result; error?: string;
  /** Set when the point was measured twice because of other load: the other-load % of the run dropped. */
  discardedOtherPct?: number;
}

/** A side at or above this CPU% is called saturated (one core = 100%). */
export const SATURATED_PCT = 90;

/** Other processes on the machine using this much CPU during a window make that round suspect. */
export const NOISY_PCT = 50;

export type Saturation = 'broker' | 'generator' | 'both' | 'neither';

export interface Cell {
  workload: string;
  contender: ContenderName;
  /** The headline metric: msg/s, conn/s, or p50 ms for round trips. */
  main: Summary;
  p99?: Summary;
  brokerPct: Summary;
  generatorPct: Summary;
  /** How busy the broker's and the generator's CPUs were (anyone's load), when pinned. */
  brokerCorePct: Summary;
  generatorCorePct: Summary;
  /** Everything else on the (shared) machine during the window. */
  otherPct: Summary;
  /** Broker CPU per delivered message (µs) or per connection (ms). */
  brokerCost: Summary;
  brokerRssMb: Summary;
  saturated: Saturation;
  errors: string[];
  notes: string[];
  /** The per-round results behind the summaries. */
  rounds: Result[];
}

export interface Target { workload: string; vs: ContenderName; min: number; text: string }

export const TARGETS: Target[] = [
  { workload: 'fan-in wss qos1', vs: 'aedes', min: 2.5, text: 'pi-hub ≥ 2.5× bare stock Aedes, mTLS WebSocket, QoS 1 fan-in' },
  { workload: 'fan-in wss qos1', vs: 'mosquitto', min: 1.0, text: 'pi-hub ≥ 1.0× Mosquitto, mTLS WebSocket, QoS 1 fan-in' },
  { workload: 'fan-in mqtts qos1', vs: 'aedes', min: 0.9, text: 'pi-hub ≥ 0.9× bare Aedes, mqtts, QoS 1 fan-in' },
  { workload: 'fan-in mqtts qos0', vs: 'aedes', min: 0.9, text: 'pi-hub ≥ 0.9× bare Aedes, mqtts, QoS 0 fan-in' },
  { workload: 'fan-in wss qos1 session', vs: 'pi-hub-memory', min: 0.5, text: 'pi-hub on SQLite ≥ 0.5× pi-hub in memory, QoS 1 fan-in to a persistent session' },
];

/** A contender's short name in a ratio column's head. */
const SHORT: Record<ContenderName, string> = {
  'pi-hub': 'hub', 'pi-hub-memory': 'mem', aedes: 'Aedes', mosquitto: 'Mosq', 'pi-hub-redis': 'redis', 'pi-hub-redis2': 'redis2',
};

export interface TargetOutcome extends Target {
  /** Ratio of the medians: what PASS/MISS is decided on. */
  ratio: number;
  /** pi-hub / other within each round (adjacent in time, so slow drifts of the machine cancel). */
  perRound: number[];
  /** other's broker CPU per message ÷ pi-hub's: > 1 means the hub spends less CPU per message. */
  cpuEfficiency: number;
  status: 'PASS' | 'MISS' | 'n/a';
  caveat: string | null;
}

export function saturation(brokerPct: number, generatorPct: number): Saturation {
  const b = brokerPct >= SATURATED_PCT;
  const g = generatorPct >= SATURATED_PCT;
  return b && g ? 'both' : b ? 'broker' : g ? 'generator' : 'neither';
}

/** Which CPU each side was pinned to; null when not pinned (saturation is then judged per process). */
export type Cores = { broker: number; generator: number } | null;

export function cells(samples: Sample[], workloads: Workload[], contenders: ContenderName[], cores: Cores): Cell[] {
  const out: Cell[] = [];
  for (const w of workloads) {
    for (const c of contenders) {
      const mine = samples.filter((s) => s.workload === w.id && s.contender === c);
      const rs = mine.flatMap((s) => (s.result ? [s.result] : []));
      const pick = (f: (r: Result) => number) => summarize(rs.map(f));
      const main = pick(headline);
      const brokerPct = pick((r) => r.brokerPct);
      const generatorPct = pick((r) => r.generatorPct);
      const otherPct = pick((r) => r.otherPct);
      const brokerCorePct = pick((r) => (cores ? r.corePct[cores.broker] ?? Number.NaN : Number.NaN));
      const generatorCorePct = pick((r) => (cores ? r.corePct[cores.generator] ?? Number.NaN : Number.NaN));
      const notes: string[] = [];
      for (const r of rs) {
        if (r.kind === 'fan-in' && r.lostAfterDrain > 0) notes.push(`round lost ${r.lostAfterDrain} messages`);
        if (r.kind === 'rtt' && r.unanswered > 0) notes.push(`${r.unanswered} requests unanswered after 3 s`);
        if (r.kind === 'connect' && r.failed > 0) notes.push(`${r.failed} connections failed (${r.firstError ?? ''})`);
      }
      out.push({
        workload: w.id, contender: c, main, brokerPct, generatorPct, otherPct, brokerCorePct, generatorCorePct,
        ...(w.kind === 'rtt' ? { p99: pick((r) => (r.kind === 'rtt' ? r.p99Ms : Number.NaN)) } : {}),
        brokerCost: pick((r) => (r.kind === 'fan-in' ? r.brokerUsPerMsg : r.kind === 'connect' ? r.brokerMsPerConn : Number.NaN)),
        brokerRssMb: pick((r) => r.brokerRssMb),
        // Pinned, a side is saturated when its CPU is full, even if a neighbour took part of it.
        saturated: cores ? saturation(brokerCorePct.median, generatorCorePct.median) : saturation(brokerPct.median, generatorPct.median),
        errors: mine.flatMap((s) => (s.error ? [`round ${s.round}: ${s.error}`] : [])),
        notes: [...new Set(notes)],
        rounds: rs,
      });
    }
  }
  return out;
}

const find = (cs: Cell[], w: string, c: ContenderName) => cs.find((x) => x.workload === w && x.contender === c);

const headline = (r: Result) => (r.kind === 'fan-in' ? r.msgPerS : r.kind === 'connect' ? r.connPerS : r.p50Ms);

export function evaluateTargets(cs: Cell[], samples: Sample[]): TargetOutcome[] {
  return TARGETS.map((t) => {
    const hub = find(cs, t.workload, 'pi-hub');
    const other = find(cs, t.workload, t.vs);
    const at = (c: ContenderName, round: number) => samples.find((s) => s.workload === t.workload && s.contender === c && s.round === round)?.result;
    const rounds = [...new Set(samples.map((s) => s.round))].sort((a, b) => a - b);
    const perRound = rounds.flatMap((r) => {
      const h = at('pi-hub', r);
      const x = at(t.vs, r);
      return h && x ? [ratio(headline(h), headline(x))] : [];
    });
    if (!hub || !other || hub.main.n === 0 || other.main.n === 0) return { ...t, ratio: Number.NaN, perRound, cpuEfficiency: Number.NaN, status: 'n/a' as const, caveat: 'not measured' };
    const r = ratio(hub.main.median, other.main.median);
    const hubGen = hub.saturated === 'generator';
    const otherGen = other.saturated === 'generator';
    const cpuEfficiency = ratio(other.brokerCost.median, hub.brokerCost.median);
    const caveats: string[] = [];
    if (hubGen && otherGen) caveats.push('both runs generator-bound: the ratio measures the generator; see CPU-eff.');
    else if (otherGen) caveats.push(`${t.vs} generator-bound: its capacity is higher, the ratio an upper bound`);
    else if (hubGen) caveats.push('pi-hub generator-bound: its capacity is higher, the ratio a lower bound');
    for (const [name, c] of [['pi-hub', hub], [t.vs, other]] as const) {
      if (c.saturated === 'neither') caveats.push(`neither side saturated in ${name}'s runs`);
    }
    if (perRound.some((x) => x >= t.min) && perRound.some((x) => x < t.min)) caveats.push('rounds disagree');
    if ((r >= t.min) !== (cpuEfficiency >= t.min) && Number.isFinite(cpuEfficiency)) caveats.push(`CPU per message says ${cpuEfficiency >= t.min ? 'PASS' : 'MISS'}`);
    const caveat = caveats.length > 0 ? caveats.join('; ') : null;
    return { ...t, ratio: r, perRound, cpuEfficiency, status: r >= t.min ? 'PASS' as const : 'MISS' as const, caveat };
  });
}

// ---- several hub nodes on Redis (issue 13) --------------------------------------------------------

export interface ClusterRatio {
  workload: string;
  metric: 'msg/s' | 'p99 ms';
  /** 2 nodes ÷ 1 node on Redis, 2 nodes ÷ pi-hub in memory, 1 node on Redis ÷ in memory (ratios of medians). */
  twoVsOne: number;
  twoVsMemory: number;
  oneVsMemory: number;
}

/** The cluster's ratios for QoS 1 fan-in throughput and round-trip p99, where both sides were measured. */
export function clusterRatios(cs: Cell[], workloads: Workload[]): ClusterRatio[] {
  const out: ClusterRatio[] = [];
  for (const w of workloads) {
    if (!((w.kind === 'fan-in' && w.qos === 1) || w.kind === 'rtt')) continue;
    const metric = w.kind === 'rtt' ? 'p99 ms' as const : 'msg/s' as const;
    const v = (c: ContenderName) => { const x = find(cs, w.id, c); return (w.kind === 'rtt' ? x?.p99?.median : x?.main.median) ?? Number.NaN; };
    out.push({
      workload: w.id, metric,
      twoVsOne: ratio(v('pi-hub-redis2'), v('pi-hub-redis')),
      twoVsMemory: ratio(v('pi-hub-redis2'), v('pi-hub-memory')),
      oneVsMemory: ratio(v('pi-hub-redis'), v('pi-hub-memory')),
    });
  }
  return out;
}

function renderCluster(cs: Cell[], workloads: Workload[], contenders: ContenderName[]): string | null {
  if (!CLUSTER_CONTENDERS.some((c) => contenders.includes(c))) return null;
  const rows = clusterRatios(cs, workloads);
  if (rows.length === 0) return null;
  const cell = (w: string, c: ContenderName, rtt: boolean) => {
    const x = find(cs, w, c);
    if (!x) return '-';
    return rtt ? (x.p99 && x.p99.n > 0 ? fmtSummary(x.p99) : '-') : mainText(x);
  };
  const lost = cs.filter((c) => CLUSTER_CONTENDERS.includes(c.contender) || c.contender === 'pi-hub-memory')
    .flatMap((c) => c.rounds).reduce((n, r) => n + (r.kind === 'fan-in' ? r.lostAfterDrain : r.kind === 'rtt' ? r.unanswered : 0), 0);
  return [
    '\nSeveral hub nodes on Redis, same run (QoS 1): pi-hub in memory, one node with --cluster, two nodes on one Redis (every broker-side process, Redis too, on the broker\'s CPU);',
    'msg/s: higher is better; p99 ms: lower is better (ratio < 1: the cluster is faster)',
    table([
      ['workload', 'in memory', '1 node, Redis', '2 nodes, Redis', '2 nodes/1 node', '2 nodes/memory', '1 node/memory'],
      ...rows.map((r) => [
        `${r.workload} ${r.metric}`,
        ...(['pi-hub-memory', 'pi-hub-redis', 'pi-hub-redis2'] as const).map((c) => cell(r.workload, c, r.metric === 'p99 ms')),
        fmtNum(r.twoVsOne), fmtNum(r.twoVsMemory), fmtNum(r.oneVsMemory),
      ]),
    ]),
    `messages lost or requests unanswered in these modes: ${lost}${lost === 0 ? ' (none)' : ' — see the notes below'}`,
  ].join('\n');
}

// ---- text ----------------------------------------------------------------------------------------

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows.map((r) => r.map((c, i) => c + ' '.repeat(widths[i]! - [...c].length)).join('  ').trimEnd()).join('\n');
}

const SAT_MARK: Record<Saturation, string> = { broker: 'B', generator: 'G', both: 'B+G', neither: '-' };
const ratioText = (a: Summary | undefined, b: Summary | undefined) => (a && b ? fmtNum(ratio(a.median, b.median)) : '-');

/** "≥" where the generator saturated and the broker did not: the broker can do at least this. */
const mainText = (c: Cell | undefined) => (!c || c.main.n === 0 ? (c?.errors.length ? 'error' : '-') : `${c.saturated === 'generator' ? '≥' : ''}${fmtSummary(c.main)}`);

export function renderText(cs: Cell[], workloads: Workload[], contenders: ContenderName[], labels: Record<string, string>, targets: TargetOutcome[]): string {
  const parts: string[] = [];
  const head = (first: string, extra: string[]) => [first, ...contenders.map((c) => labels[c] ?? c), ...extra];
  // Ratios against the other brokers; the cluster's own comparison is a section of its own (below).
  const others = contenders.filter((c) => c !== 'pi-hub' && !CLUSTER_CONTENDERS.includes(c));
  const ratioHeads = contenders.includes('pi-hub') ? others.map((c) => `hub/${SHORT[c]}`) : [];

  const thr = workloads.filter((w) => w.kind !== 'rtt');
  if (thr.length > 0) {
    parts.push('Throughput: fan-in msg/s delivered at the subscriber; connect = mTLS connections/s up to CONNACK (median [min–max] over rounds)');
    parts.push(table([
      head('workload', ratioHeads),
      ...thr.map((w) => [
        `${w.id} ${w.kind === 'connect' ? 'conn/s' : 'msg/s'}`,
        ...contenders.map((c) => mainText(find(cs, w.id, c))),
        ...(contenders.includes('pi-hub') ? others.map((o) => ratioText(find(cs, w.id, 'pi-hub')?.main, find(cs, w.id, o)?.main)) : []),
      ]),
    ]));
  }

  const rtt = workloads.filter((w) => w.kind === 'rtt');
  if (rtt.length > 0) {
    parts.push('\nRound trips: cmd/req → cmd/res at a fixed offered rate, latency from the scheduled send, p50 / p99 ms (median [min–max]); ratios < 1: pi-hub faster');
    parts.push(table([
      head('workload', ratioHeads.map((h) => `${h} p50/p99`)),
      ...rtt.flatMap((w) => [
        [`${w.id} p50 ms`, ...contenders.map((c) => mainText(find(cs, w.id, c))), ...(contenders.includes('pi-hub') ? others.map((o) => ratioText(find(cs, w.id, 'pi-hub')?.main, find(cs, w.id, o)?.main)) : [])],
        [`${w.id} p99 ms`, ...contenders.map((c) => { const x = find(cs, w.id, c); return x?.p99 ? fmtSummary(x.p99) : '-'; }), ...(contenders.includes('pi-hub') ? others.map((o) => ratioText(find(cs, w.id, 'pi-hub')?.p99, find(cs, w.id, o)?.p99)) : [])],
      ]),
    ]));
  }

  const cluster = renderCluster(cs, workloads, contenders);
  if (cluster) parts.push(cluster);

  parts.push('\nCPU, medians in % of one core: broker process / generator process / other processes on the machine, (busy % of the broker\'s CPU / of the generator\'s CPU, anyone\'s load);');
  parts.push(`saturated side: B broker, G generator, B+G both (its CPU ≥ ${SATURATED_PCT}% busy), - neither; broker CPU cost per message (µs) or connection (ms); broker RSS at the end of the window (connect: with all connections open)`);
  parts.push(table([
    head('workload', []),
    ...workloads.map((w) => [
      w.id,
      ...contenders.map((c) => {
        const x = find(cs, w.id, c);
        if (!x || x.main.n === 0) return '-';
        const cost = Number.isFinite(x.brokerCost.median) ? ` ${fmtNum(x.brokerCost.median)}${w.kind === 'connect' ? 'ms' : 'µs'}` : '';
        const core = Number.isFinite(x.brokerCorePct.median) ? ` (${Math.round(x.brokerCorePct.median)}/${Math.round(x.generatorCorePct.median)})` : '';
        return `${Math.round(x.brokerPct.median)}/${Math.round(x.generatorPct.median)}/${Math.round(x.otherPct.median)}${core} ${SAT_MARK[x.saturated]}${cost} ${Math.round(x.brokerRssMb.median)}MB`;
      }),
    ]),
  ]));

  const all = cs.flatMap((c) => c.rounds);
  const noisy = all.filter((r) => r.otherPct >= NOISY_PCT);
  if (noisy.length > 0) {
    parts.push(`\n${noisy.length} of ${all.length} points ran beside other load ≥ ${NOISY_PCT}% of a core (max ${Math.round(Math.max(...noisy.map((r) => r.otherPct)))}%): the machine is shared; read their ranges with care.`);
  }
  const problems = cs.flatMap((c) => [...c.errors, ...c.notes].map((e) => `${c.workload} / ${labels[c.contender] ?? c.contender}: ${e}`));
  if (problems.length > 0) parts.push(`\nErrors and notes:\n${problems.map((p) => `  ${p}`).join('\n')}`);

  if (contenders.includes('pi-hub')) {
    parts.push('\nTargets (ratio of medians; CPU-eff. = other broker CPU/msg ÷ pi-hub CPU/msg, > 1: the hub spends less per message)');
    parts.push(table([
      ['target', 'ratio', 'per round', 'CPU-eff.', 'status', 'note'],
      ...targets.map((t) => [t.text, fmtNum(t.ratio), t.perRound.map(fmtNum).join(' '), fmtNum(t.cpuEfficiency), t.status, t.caveat ?? '']),
    ]));
  }
  return parts.join('\n');
}
