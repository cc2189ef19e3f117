// The bench's child processes: our CLIs run to completion, and long-running programs (pi-hub,
// pi-agent, the other brokers, bare node) whose log lines are kept and can be waited for. The bench
// has its own, apart from the tests' helpers: bench and tests never import each other.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** dist/bench → the checkout, or the snapshot the bench runs from (see snapshot.ts). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HUB_CLI = fileURLToPath(new URL('../broker/cli.js', import.meta.url));
export const AGENT_CLI = fileURLToPath(new URL('../agent/cli.js', import.meta.url));

/** What `pi-hub serve` prints once both listeners are up: HTTPS/WSS port, mqtts port, root fingerprint. */
export const HUB_LISTENING = /listening https:\/\/127\.0\.0\.1:(\d+) mqtts:\/\/127\.0\.0\.1:(\d+).*fingerprint=([0-9A-F:]+)/;

export interface RunResult { code: number | null; stdout: string; stderr: string }

/** Runs one of our CLIs (a Node script) to completion; killed after `timeoutMs`. */
export function run(script: string, args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // EPIPE: the CLI exited without reading its stdin
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Like run(), but a non-zero exit is an error naming the command and its stderr. */
export async function runOk(script: string, args: string[], opts: { stdin?: string } = {}): Promise<string> {
  const r = await run(script, args, opts);
  if (r.code !== 0) throw new Error(`${script} ${args[0] ?? ''} ${args[1] ?? ''} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** A long-running child whose stdout and stderr lines are kept, with a way to wait for one. */
export class Daemon {
  readonly output: string[] = [];
  readonly exited: Promise<void>;
  private waiters: Array<{ re: RegExp; resolve: (m: RegExpExecArray) => void }> = [];

  /** A daemon still running when the bench exits (a crash, a bug) is killed: no broker outlives it. */
  private static readonly live = new Set<ChildProcess>();
  private static reaping = false;

  constructor(readonly child: ChildProcess, readonly name: string) {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.output.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        this.check();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    if (!Daemon.reaping) {
      Daemon.reaping = true;
      process.once('exit', () => { for (const c of Daemon.live) c.kill('SIGKILL'); });
    }
    Daemon.live.add(child);
    child.once('exit', () => Daemon.live.delete(child));
  }

  /** A Node script (one of our CLIs, or `-e CODE`) with extra environment variables and node flags. */
  static start(script: string, args: string[], name: string, env: NodeJS.ProcessEnv = {}, nodeFlags: string[] = []): Daemon {
    const child = spawn(process.execPath, [...nodeFlags, script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Daemon(child, name);
  }

  get pid(): number { return this.child.pid!; }
  get log(): string { return this.output.join('\n'); }
  get running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      for (const line of this.output) {
        const m = w.re.exec(line);
        if (m) { w.resolve(m); return false; }
      }
      return true;
    });
  }

  /** Resolves with the first line since the start that matches `re`. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms; output:\n${this.output.slice(-30).join('\n')}`)), timeoutMs);
      this.waiters.push({ re, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      this.check();
    });
  }

  /** Sends `signal`, then SIGKILL if the child is still there after 10 s. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return this.exited;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

export interface HubProcess { daemon: Daemon; port: number; mqttsPort: number; fingerprint: string }

/** `pi-hub serve` on `dataDir`, on free ports of 127.0.0.1, once it says it is listening. */
export async function startHub(dataDir: string): Promise<HubProcess> {
  const daemon = Daemon.start(HUB_CLI, ['serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--mqtts-port', '0'], 'pi-hub');
  try {
    const m = await daemon.waitForLine(HUB_LISTENING, 30_000);
    return { daemon, port: Number(m[1]), mqttsPort: Number(m[2]), fingerprint: m[3]! };
  } catch (err) {
    await daemon.stop('SIGKILL');
    throw err;
  }
}
