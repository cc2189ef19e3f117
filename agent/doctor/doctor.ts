// The doctor: runs the checks of every loaded doctor module — built-ins in-process (builtins.ts),
// command checks through the executor like any command — and reports pass/warn/fail/skip
// (DoctorReportSchema). A check never throws: whatever goes wrong is its result.
import type { Logger } from '../../shared/log.js';
import type { CheckResult, CheckStatus, DoctorReport } from '../../shared/schemas.js';
import { execute, type ExecOptions } from '../executor.js';
import type { LoadedCheck, LoadedModule } from '../modules/loader.js';
import type { PassSpec } from '../modules/schema.js';
import { type BuiltinOptions, type Outcome, runBuiltin } from './builtins.js';
import { monotonicMs } from '../clock.js';

export interface DoctorOptions extends BuiltinOptions {
  logger?: Logger;
  /** For command checks. */
  exec?: Omit<ExecOptions, 'signal'>;
}

/** The first number a program prints (`temp=48.3'C` → 48.3). */
export function firstNumber(text: string): number | null {
  const m = /-?\d+(?:\.\d+)?/.exec(text);
  return m ? Number(m[0]) : null;
}

function compare(a: number, op: '<' | '<=' | '>' | '>=' | '==', b: number): boolean {
  switch (op) {
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
    case '==': return a === b;
  }
}

/** `value` is the bound to pass at all; `warn`, when given, the bound to pass without a warning. */
export function evaluateNumber(n: number, spec: Extract<PassSpec, { number: unknown }>['number']): CheckStatus {
  if (!compare(n, spec.op, spec.value)) return 'fail';
  if (spec.warn !== undefined && !compare(n, spec.op, spec.warn)) return 'warn';
  return 'pass';
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0]?.slice(0, 200) ?? '';
}

export class Doctor {
  constructor(private readonly opts: DoctorOptions) {}

  async run(modules: readonly LoadedModule[], options: { signal?: AbortSignal } = {}): Promise<DoctorReport> {
    const checks = modules.filter((m) => m.kind === 'doctor').flatMap((m) => m.checks);
    const results = await Promise.all(checks.map((c) => this.runCheck(c, options.signal)));
    return { v: 1, ts: Date.now(), ok: results.every((r) => r.status !== 'fail'), checks: results };
  }

  private async runCheck(check: LoadedCheck, signal: AbortSignal | undefined): Promise<CheckResult> {
    const started = monotonicMs();
    let o: Outcome;
    try {
      o = check.type === 'builtin' ? await runBuiltin(check.spec, this.opts) : await this.command(check, signal);
    } catch (err) {
      o = { status: 'fail', detail: `check failed: ${(err as Error).message}` };
    }
    const r: CheckResult = {
      module: check.module, name: check.name, title: check.title, status: o.status,
      detail: o.detail.replace(/\s+/g, ' ').slice(0, 1000), durationMs: Math.round(monotonicMs() - started),
    };
    if (o.value !== undefined) r.value = o.value;
    if (o.status === 'fail' || o.status === 'warn') this.opts.logger?.warn('doctor check', { check: `${check.module}/${check.name}`, status: o.status, detail: r.detail });
    return r;
  }

  private async command(check: Extract<LoadedCheck, { type: 'command' }>, signal: AbortSignal | undefined): Promise<Outcome> {
    const r = await execute({ argv: check.argv, user: check.user, timeoutMs: check.timeoutSec * 1000 }, { ...this.opts.exec, ...(signal ? { signal } : {}) });
    if (!r.ok) return { status: 'fail', detail: `cannot run: ${r.message}` };
    if (r.timedOut) return { status: 'fail', detail: `timed out after ${check.timeoutSec} s` };
    if (r.aborted) return { status: 'skip', detail: 'interrupted: the agent is stopping' };
    const pass = check.pass;
    if ('exitCode' in pass) {
      if (r.exitCode === pass.exitCode) return { status: 'pass', detail: firstLine(r.stdout) || `exit ${r.exitCode}`, value: r.exitCode };
      const why = firstLine(r.stderr) || firstLine(r.stdout);
      return { status: 'fail', detail: `${r.exitCode === null ? `killed by ${r.signal}` : `exit ${r.exitCode}`}${why ? `: ${why}` : ''}`, value: r.exitCode };
    }
    const n = firstNumber(r.stdout);
    if (n === null) return { status: 'fail', detail: `no number in the output${r.exitCode ? ` (exit ${r.exitCode})` : ''}` };
    const { op, value, warn } = pass.number;
    return { status: evaluateNumber(n, pass.number), detail: `${n} (must be ${op} ${value}${warn !== undefined ? `, ideally ${op} ${warn}` : ''})`, value: n };
  }
}
