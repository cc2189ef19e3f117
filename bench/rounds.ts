// The measuring schedule: rounds in which the contenders alternate (A B C, then C B A, …) point by
// point, each point in a fresh generator process. Before a point the broker must be idle and, while
// the time budget allows, the shared machine quiet; a point that still ran beside a neighbour's burst
// is measured once more (within budget) and the quieter run kept.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Contender } from './contenders.js';
import type { Fixture } from './fixture.js';
import { type BenchOptions, type Workload, measures } from './options.js';
import { cpuOf, settle } from './proc.js';
import { NOISY_PCT, type Sample } from './report.js';
import { fmtNum } from './stats.js';
import type { Job, Result } from './workloads.js';

const GENERATOR = fileURLToPath(new URL('./generator.js', import.meta.url));

/** One measured point in a fresh generator process, bounded in time. */
function runPoint(job: Job, timeoutMs: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = fork(GENERATOR, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`generator did not finish within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    child.once('message', (m: { ok: true; result: Result } | { ok: false; error: string }) => {
      clearTimeout(timer);
      if (m.ok) resolve(m.result);
      else reject(new Error(m.error));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`generator exited (${code}) without a result`));
    });
    child.send(job);
  });
}

function pointTimeoutMs(w: Workload, o: BenchOptions): number {
  return w.kind === 'connect' ? (o.connectTimeLimitS + 30) * 1000 : o.warmupMs + o.seconds * 1000 + 30_000;
}

export function describe(r: Result): string {
  const cpu = `broker ${fmtNum(r.brokerPct)}% gen ${fmtNum(r.generatorPct)}% other ${fmtNum(r.otherPct)}%`;
  switch (r.kind) {
    case 'fan-in': return `${fmtNum(r.msgPerS)} msg/s  ${cpu}  ${fmtNum(r.brokerUsPerMsg)} µs/msg${r.lostAfterDrain ? `  lost ${r.lostAfterDrain}` : ''}`;
    case 'rtt': return `p50 ${fmtNum(r.p50Ms)} ms p99 ${fmtNum(r.p99Ms)} ms (${r.samples} samples${r.unanswered ? `, ${r.unanswered} unanswered` : ''})  ${cpu}`;
    case 'connect': return `${fmtNum(r.connPerS)} conn/s (${r.made} made${r.failed ? `, ${r.failed} failed` : ''})  ${cpu}  ${fmtNum(r.brokerMsPerConn)} ms/conn`;
  }
}

export interface RoundsContext {
  contenders: Contender[];
  fixture: Fixture;
  o: BenchOptions;
  /** When the run started (ms since epoch): the budget counts from there. */
  t0: number;
  progress: (line: string) => void;
  stopping: () => boolean;
}

export async function runRounds(ctx: RoundsContext): Promise<Sample[]> {
  const { contenders, fixture, o, progress } = ctx;
  const samples: Sample[] = [];
  const totalPoints = o.rounds * o.workloads.reduce((n, w) => n + contenders.filter((c) => measures(c.name, w)).length, 0);
  let retries = Math.ceil(totalPoints * 0.2);
  let pointsDone = 0;
  let measuringS = 0;
  /** Seconds left in the budget after the points still to do; waiting and re-measuring only while > 0. */
  const spare = () => {
    const perPoint = pointsDone > 0 ? measuringS / pointsDone : o.warmupMs / 1000 + o.seconds + 2;
    return o.budgetS - (Date.now() - ctx.t0) / 1000 - perPoint * (totalPoints - pointsDone);
  };

  const measure = async (c: Contender, w: Workload): Promise<{ result?: Result; error?: string }> => {
    const job: Job = {
      workload: w, contender: c.name, endpoints: c.endpoints, user: fixture.user, devices: fixture.devices, brokerPids: c.pids,
      opts: {
        seconds: o.seconds, warmupMs: o.warmupMs, window: o.window, payloadBytes: o.payloadBytes, rate: o.rate,
        connections: o.connections, connConcurrency: o.connConcurrency, connectTimeLimitS: o.connectTimeLimitS,
      },
    };
    await settle(c.pids, spare() > 0 ? o.quietWaitMs : 0);
    const started = Date.now();
    try {
      return { result: await runPoint(job, pointTimeoutMs(w, o)) };
    } catch (err) {
      return { error: (err as Error).message };
    } finally {
      measuringS += (Date.now() - started) / 1000;
    }
  };

  for (let round = 1; round <= o.rounds && !ctx.stopping(); round++) {
    const order = round % 2 === 1 ? contenders : [...contenders].reverse();
    progress(`round ${round}/${o.rounds}: ${order.map((c) => c.name).join(' ')}`);
    for (const w of o.workloads) {
      for (const c of order) {
        if (ctx.stopping()) return samples;
        if (!measures(c.name, w)) continue;
        const sample: Sample = { round, workload: w.id, contender: c.name };
        if (Number.isNaN(cpuOf(c.pids))) {
          sample.error = `${c.label} is no longer running`;
        } else {
          let a = await measure(c, w);
          pointsDone++;
          if (a.result && a.result.otherPct >= NOISY_PCT && retries > 0 && spare() > 0) {
            retries--;
            progress(`  ${w.id.padEnd(18)} ${c.name.padEnd(10)} other load ${fmtNum(a.result.otherPct)}%: measuring again`);
            const b = await measure(c, w);
            sample.discardedOtherPct = a.result.otherPct;
            if (b.result && b.result.otherPct < a.result.otherPct) a = b;
            else sample.discardedOtherPct = b.result?.otherPct ?? Number.NaN;
          }
          if (a.result) sample.result = a.result;
          if (a.error) {
            sample.error = a.error;
            progress(`  ${c.label}'s last log lines:\n${c.logTail().replace(/^/gm, '    ')}`);
          }
        }
        samples.push(sample);
        progress(`  ${w.id.padEnd(18)} ${c.name.padEnd(10)} ${sample.result ? describe(sample.result) : `ERROR ${sample.error}`}`);
      }
    }
  }
  return samples;
}
