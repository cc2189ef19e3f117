// Child processes for the tests and the bench (which never import each other): run a CLI or any
// program to completion, or keep a daemon and read its log lines.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** dist/harness → the checkout (or the copy of dist/ the bench runs from, with the checkout above it). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HUB_CLI = fileURLToPath(new URL('../broker/cli.js', import.meta.url));
export const AGENT_CLI = fileURLToPath(new URL('../agent/cli.js', import.meta.url));

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export interface RunOptions { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string }

/** Runs a Node script (one of our CLIs) to completion. */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProgram(process.execPath, [file, ...args], opts);
}

/** Runs any program to completion (openssl, mosquitto_pub, python3…); killed after `timeoutMs`. */
export function runProgram(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 30_000} ms\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // EPIPE: the program exited without reading its stdin
    child.stdin.end(opts.stdin ?? '');
  });
}

/** A long-running child whose output is kept, with a way to wait for a line. */
export class Daemon {
  readonly output: string[] = [];
  private waiters: Array<{ re: RegExp; from: number; resolve: (m: RegExpExecArray) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess, readonly name: string) {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.output.push(line);
        if (process.env.PIFLEET_TEST_VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
        this.check();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    Daemon.live.add(child);
    child.on('exit', () => Daemon.live.delete(child));
    if (!Daemon.reaping) {
      Daemon.reaping = true;
      process.once('exit', () => { for (const c of Daemon.live) c.kill('SIGKILL'); });
    }
  }

  /** Every daemon still running when the test process exits is killed, so none outlives a failed run. */
  private static readonly live = new Set<ChildProcess>();
  private static reaping = false;

  static start(file: string, args: string[], name: string, env: NodeJS.ProcessEnv = {}, nodeFlags: readonly string[] = []): Daemon {
    return Daemon.startProgram(process.execPath, [...nodeFlags, file, ...args], name, env);
  }

  /** Any program, not only a Node script. */
  static startProgram(file: string, args: string[], name: string, env: NodeJS.ProcessEnv = {}): Daemon {
    const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Daemon(child, name);
  }

  get pid(): number { return this.child.pid!; }
  get log(): string { return this.output.join('\n'); }
  get running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      for (let i = w.from; i < this.output.length; i++) {
        const m = w.re.exec(this.output[i]!);
        if (m) { w.resolve(m); return false; }
      }
      return true;
    });
  }

  /** Resolves with the first line (from index `from`, default: from now on) matching `re`. */
  waitForLine(re: RegExp, timeoutMs = 15_000, from = this.output.length): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms; output:\n${this.output.slice(-30).join('\n')}`)), timeoutMs);
      this.waiters.push({ re, from, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      this.check();
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running) return this.exited;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

/** Rejects after `ms` with a message naming what did not happen: every awaited MQTT step gets one. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
