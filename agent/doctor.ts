// The doctor: runs the checks of every loaded doctor module — built-ins in-process, command checks
// through the executor like any command — and reports pass/warn/fail/skip (DoctorReportSchema).
// A check never throws: whatever goes wrong is its result.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { access, readFile, statfs } from 'node:fs/promises';
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import type { CheckResult, CheckStatus, DoctorReport } from '../shared/schemas.js';
import type { Logger } from '../shared/log.js';
import { agentPaths } from './config.js';
import { execute, type ExecOptions } from './executor.js';
import { isPseudoFilesystem } from './filesystems.js';
import type { LoadedCheck, LoadedModule } from './modules/loader.js';
import { CheckSchema, DOCTOR_ID, BUILTIN_CHECKS, type BuiltinCheckDef, type PassSpec } from './modules/schema.js';
import { DEFAULT_SENSOR_PATHS, readTemperatureC, readThrottled, type SensorPaths } from './pi-sensors.js';

export interface DoctorOptions {
  configDir: string;
  /** https://HOST:PORT from agent.json; null when this Pi is not connected. */
  hubUrl: string | null;
  logger?: Logger;
  sensorPaths?: SensorPaths;
  mountsFile?: string;
  timedatectl?: string;
  timesyncFile?: string;
  /** For command checks. */
  exec?: Omit<ExecOptions, 'signal'>;
}

type Outcome = { status: CheckStatus; detail: string; value?: number | null };

/** `/proc/self/mounts` → the mount points worth a disk check: `/` and every device-backed, writable-kind filesystem. */
export function realMounts(mountsText: string): string[] {
  const seen = new Set<string>();
  for (const line of mountsText.split('\n')) {
    const [dev, rawMount, type] = line.split(' ');
    if (!dev || !rawMount || !type) continue;
    const mount = rawMount.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    if (mount === '/' || (dev.startsWith('/dev/') && !isPseudoFilesystem(type))) seen.add(mount);
  }
  return [...seen].sort();
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

/** Higher is worse: disk use, temperature. */
export function grade(value: number, warnAt: number, failAt: number): CheckStatus {
  return value >= failAt ? 'fail' : value >= warnAt ? 'warn' : 'pass';
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0]?.slice(0, 200) ?? '';
}

/** The six built-ins at their default thresholds, for `pi-agent doctor` when no doctor module is installed. */
export function defaultDoctorModule(): LoadedModule {
  const titles: Record<(typeof BUILTIN_CHECKS)[number], string> = {
    disk: 'Disk space', temperature: 'SoC temperature', throttling: 'Power supply and throttling',
    clock: 'Clock synchronised', hub: 'Hub reachable', certificate: 'Device certificate',
  };
  const checks: LoadedCheck[] = BUILTIN_CHECKS.map((name) => ({
    module: DOCTOR_ID, name, title: titles[name], type: 'builtin' as const,
    spec: CheckSchema.parse({ title: titles[name], builtin: name }) as BuiltinCheckDef,
  }));
  return { file: '(built-in)', id: DOCTOR_ID, title: 'Health checks', kind: 'doctor', commands: new Map(), checks };
}

export class Doctor {
  constructor(private readonly opts: DoctorOptions) {}

  async run(modules: readonly LoadedModule[], options: { signal?: AbortSignal } = {}): Promise<DoctorReport> {
    const checks = modules.filter((m) => m.kind === 'doctor').flatMap((m) => m.checks);
    const results = await Promise.all(checks.map((c) => this.runCheck(c, options.signal)));
    return { v: 1, ts: Date.now(), ok: results.every((r) => r.status !== 'fail'), checks: results };
  }

  private async runCheck(check: LoadedCheck, signal: AbortSignal | undefined): Promise<CheckResult> {
    const started = performance.now();
    let o: Outcome;
    try {
      o = check.type === 'builtin' ? await this.builtin(check.spec) : await this.command(check, signal);
    } catch (err) {
      o = { status: 'fail', detail: `check failed: ${(err as Error).message}` };
    }
    const r: CheckResult = {
      module: check.module, name: check.name, title: check.title, status: o.status,
      detail: o.detail.replace(/\s+/g, ' ').slice(0, 1000), durationMs: Math.round(performance.now() - started),
    };
    if (o.value !== undefined) r.value = o.value;
    if (o.status === 'fail' || o.status === 'warn') this.opts.logger?.warn('doctor check', { check: `${check.module}/${check.name}`, status: o.status, detail: r.detail });
    return r;
  }

  private builtin(spec: BuiltinCheckDef): Promise<Outcome> {
    switch (spec.builtin) {
      case 'disk': return this.disk(spec.warnPercent, spec.failPercent);
      case 'temperature': return this.temperature(spec.warnC, spec.failC);
      case 'throttling': return this.throttling();
      case 'clock': return this.clock();
      case 'hub': return this.hub(spec.timeoutSec * 1000);
      case 'certificate': return this.certificate(spec.warnDays, spec.failDays);
    }
  }

  private async disk(warnPercent: number, failPercent: number): Promise<Outcome> {
    const mounts = realMounts(await readFile(this.opts.mountsFile ?? '/proc/self/mounts', 'utf8').catch(() => '/ / rootfs'));
    const parts: { mount: string; pct: number }[] = [];
    for (const mount of mounts) {
      try {
        const s = await statfs(mount);
        const used = (s.blocks - s.bfree) * s.bsize;
        const usable = used + s.bavail * s.bsize; // as df counts: space reserved for root is not usable
        if (usable > 0) parts.push({ mount, pct: Math.round((used / usable) * 1000) / 10 });
      } catch {
        // Unmounted meanwhile, or not ours to see.
      }
    }
    if (parts.length === 0) return { status: 'skip', detail: 'no filesystem could be measured' };
    const worst = parts.reduce((a, b) => (b.pct > a.pct ? b : a));
    return {
      status: grade(worst.pct, warnPercent, failPercent),
      detail: parts.map((p) => `${p.mount} ${p.pct}% used`).join(', '),
      value: worst.pct,
    };
  }

  private async temperature(warnC: number, failC: number): Promise<Outcome> {
    const t = await readTemperatureC(this.opts.sensorPaths ?? DEFAULT_SENSOR_PATHS);
    if (t === null) return { status: 'skip', detail: 'no temperature sensor' };
    return { status: grade(t, warnC, failC), detail: `${t} °C (warn at ${warnC}, fail at ${failC})`, value: t };
  }

  private async throttling(): Promise<Outcome> {
    const t = await readThrottled(this.opts.sensorPaths ?? DEFAULT_SENSOR_PATHS);
    if (t === null) return { status: 'skip', detail: 'vcgencmd is not available (not a Raspberry Pi?)' };
    const now = [t.underVoltageNow && 'under-voltage', t.throttledNow && 'throttled', t.freqCappedNow && 'frequency capped', t.softTempLimitNow && 'soft temperature limit'].filter(Boolean);
    const ever = [t.underVoltageEver && 'under-voltage', t.throttledEver && 'throttling', t.freqCappedEver && 'frequency capping', t.softTempLimitEver && 'soft temperature limit'].filter(Boolean);
    const hex = `0x${t.raw.toString(16)}`;
    if (t.underVoltageNow || t.throttledNow) return { status: 'fail', detail: `now: ${now.join(', ')} (${hex}); check the power supply and cooling`, value: t.raw };
    if (now.length > 0) return { status: 'warn', detail: `now: ${now.join(', ')} (${hex})`, value: t.raw };
    if (ever.length > 0) return { status: 'warn', detail: `since boot: ${ever.join(', ')} (${hex})`, value: t.raw };
    return { status: 'pass', detail: 'no under-voltage or throttling since boot', value: t.raw };
  }

  private async clock(): Promise<Outcome> {
    const answer = await new Promise<string | null>((resolve) => {
      execFile(this.opts.timedatectl ?? '/usr/bin/timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 3000, env: {} }, (err, stdout) => {
        resolve(err ? null : stdout.trim());
      });
    });
    if (answer === 'yes') return { status: 'pass', detail: 'NTP synchronised (timedatectl)' };
    if (answer === 'no') return { status: 'warn', detail: 'the clock is not NTP-synchronised (timedatectl); certificates may be refused' };
    try {
      await access(this.opts.timesyncFile ?? '/run/systemd/timesync/synchronized');
      return { status: 'pass', detail: 'synchronised (systemd-timesyncd)' };
    } catch {
      return { status: 'skip', detail: 'cannot tell: timedatectl did not answer and systemd-timesyncd has not reported synchronisation' };
    }
  }

  private async hub(timeoutMs: number): Promise<Outcome> {
    if (!this.opts.hubUrl) return { status: 'skip', detail: 'this Pi is not connected to a hub' };
    let url: URL;
    try {
      url = new URL(this.opts.hubUrl);
    } catch {
      return { status: 'fail', detail: `hub URL ${this.opts.hubUrl} is not valid` };
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || 443);
    const paths = agentPaths(this.opts.configDir);
    const read = (f: string) => readFile(f).catch(() => undefined);
    const [ca, cert, key] = await Promise.all([read(paths.chain), read(paths.cert), read(paths.key)]);
    const started = performance.now();
    return new Promise<Outcome>((resolve) => {
      const socket = connect({
        host, port,
        ...(isIP(host) ? {} : { servername: host }),
        ca, // pinned chain written by `pi-agent connect`; without it the handshake is only tested, not trusted
        rejectUnauthorized: ca !== undefined,
        ...(cert && key ? { cert, key } : {}),
        minVersion: 'TLSv1.3',
      });
      const done = (o: Outcome) => { clearTimeout(timer); socket.destroy(); resolve(o); };
      const timer = setTimeout(() => done({ status: 'fail', detail: `no TLS connection to ${host}:${port} within ${timeoutMs / 1000} s` }), timeoutMs);
      socket.once('secureConnect', () => {
        const ms = Math.round(performance.now() - started);
        done({ status: 'pass', detail: `TLS to ${host}:${port} in ${ms} ms${ca ? '' : ' (not verified: no ca.pem)'}`, value: ms });
      });
      socket.once('error', (e: NodeJS.ErrnoException) => done({ status: 'fail', detail: `cannot reach ${host}:${port}: ${e.code ?? e.message}` }));
    });
  }

  private async certificate(warnDays: number, failDays: number): Promise<Outcome> {
    const file = agentPaths(this.opts.configDir).cert;
    let pem: Buffer;
    try {
      pem = await readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES') return { status: 'skip', detail: `cannot read ${file} (run as root)` };
      return { status: 'fail', detail: `no device certificate at ${file}; run: pi-agent connect --hub https://HOST:PORT --api-key KEY --fingerprint SHA256` };
    }
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(pem);
    } catch {
      return { status: 'fail', detail: `${file} is not a certificate; run pi-agent connect again` };
    }
    const now = Date.now();
    if (new Date(x509.validFrom).getTime() > now) return { status: 'fail', detail: `not valid before ${x509.validFrom}: is the clock right?` };
    const days = Math.floor(((new Date(x509.validTo).getTime() - now) / 86_400_000) * 10) / 10;
    if (days <= 0) return { status: 'fail', detail: `expired on ${x509.validTo}; run pi-agent connect again`, value: days };
    const status: CheckStatus = days < failDays ? 'fail' : days < warnDays ? 'warn' : 'pass';
    return { status, detail: `${days} days left (until ${x509.validTo})${status === 'pass' ? '' : '; renewal is overdue: is the hub reachable?'}`, value: days };
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

const STATUS_LABEL: Record<CheckStatus, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** A short text table: one line per check, then a summary. */
export function formatDoctorReport(report: DoctorReport): string {
  const width = Math.min(40, Math.max(5, ...report.checks.map((c) => c.title.length)));
  const lines = report.checks.map((c) => `${STATUS_LABEL[c.status]}  ${c.title.padEnd(width)}  ${c.detail}`);
  const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  lines.push(`${count('pass')} passed, ${count('warn')} warning${count('warn') === 1 ? '' : 's'}, ${count('fail')} failed, ${count('skip')} skipped`);
  return `${lines.join('\n')}\n`;
}
