// Runs one command the way docs/ARCHITECTURE.md ("Command modules") promises: no shell, the declared
// user's uid, gid and supplementary groups via setpriv (the daemon itself never changes uid),
// no_new_privs, a clean environment, its own process group, a timeout (SIGTERM, then SIGKILL to
// the group) and capped output.
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { SystemUser } from './users.js';
import { monotonicMs } from './clock.js';

export const SETPRIV = '/usr/bin/setpriv';
export const CLEAN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_GRACE_MS = 5000;
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

export interface ExecSpec {
  argv: readonly string[];
  user: SystemUser;
  timeoutMs: number;
}

export interface ExecOptions {
  /** Between SIGTERM and SIGKILL. */
  graceMs?: number;
  /** Per stream (stdout, stderr). */
  maxOutputBytes?: number;
  /** Aborting kills the command's group like a timeout does (agent shutdown). */
  signal?: AbortSignal;
  setpriv?: string;
  /** The agent's uid (tests); default process.getuid(). */
  daemonUid?: number;
}

export type ExecResult =
  | {
    ok: true;
    exitCode: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
    truncated: boolean;
    durationMs: number;
    timedOut: boolean;
    aborted: boolean;
  }
  | { ok: false; message: string; durationMs: number };

/** The argv given to spawn: setpriv, its options, `--`, then the command's argv. */
export function setprivArgs(user: SystemUser, daemonUid: number, argv: readonly string[]): string[] | null {
  if (daemonUid === 0) {
    return [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--no-new-privs', '--', ...argv];
  }
  // Not root: only the agent's own user is possible, and it keeps its groups.
  return user.uid === daemonUid ? ['--no-new-privs', '--', ...argv] : null;
}

export function cleanEnv(user: SystemUser): Record<string, string> {
  return { PATH: CLEAN_PATH, HOME: user.home, USER: user.name, LOGNAME: user.name, LANG: 'C.UTF-8' };
}

/** Keeps at most `cap` bytes of a stream; the rest is read and dropped so the child never blocks. */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    const room = this.cap - this.size;
    if (chunk.length <= room) {
      this.chunks.push(chunk);
      this.size += chunk.length;
      return;
    }
    this.truncated = true;
    if (room > 0) {
      this.chunks.push(Buffer.from(chunk.subarray(0, room))); // a copy: the rest of the chunk is not kept
      this.size += room;
    }
  }

  text(): string {
    return Buffer.concat(this.chunks, this.size).toString('utf8');
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

async function workingDir(home: string): Promise<string> {
  try {
    return (await stat(home)).isDirectory() ? home : '/';
  } catch {
    return '/';
  }
}

export async function execute(spec: ExecSpec, opts: ExecOptions = {}): Promise<ExecResult> {
  const started = monotonicMs();
  const elapsed = () => Math.round(monotonicMs() - started);
  const daemonUid = opts.daemonUid ?? process.getuid?.() ?? 0;
  const args = setprivArgs(spec.user, daemonUid, spec.argv);
  if (!args) return { ok: false, message: `cannot run as "${spec.user.name}": pi-agent is not running as root`, durationMs: elapsed() };
  const program = spec.argv[0];
  if (!program) return { ok: false, message: 'empty argv', durationMs: elapsed() };
  try {
    await stat(program);
  } catch (err) {
    return { ok: false, message: `${program}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such program' : (err as Error).message}`, durationMs: elapsed() };
  }
  if (opts.signal?.aborted) return { ok: false, message: 'aborted before start', durationMs: elapsed() };
  const cwd = await workingDir(spec.user.home);
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const cap = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;

  return new Promise<ExecResult>((resolve) => {
    const child = spawn(opts.setpriv ?? SETPRIV, args, {
      cwd,
      env: cleanEnv(spec.user),
      detached: true, // its own process group, so a timeout reaches the grandchildren too
      stdio: ['ignore', 'pipe', 'pipe'], // stdin is /dev/null
      windowsHide: true,
    });
    const out = new CappedBuffer(cap);
    const err = new CappedBuffer(cap);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));

    let timedOut = false;
    let aborted = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];

    const terminate = () => {
      if (child.pid === undefined) return;
      const pid = child.pid;
      killGroup(pid, 'SIGTERM');
      timers.push(setTimeout(() => {
        killGroup(pid, 'SIGKILL');
        // A process that left the group (setsid) may still hold our pipes: stop waiting for them.
        timers.push(setTimeout(() => { child.stdout.destroy(); child.stderr.destroy(); }, 1000));
      }, graceMs));
    };
    const onAbort = () => {
      if (settled || timedOut || aborted) return;
      aborted = true;
      terminate();
    };
    timers.push(setTimeout(() => {
      if (settled || aborted) return;
      timedOut = true;
      terminate();
    }, spec.timeoutMs));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (r: ExecResult) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      finish({ ok: false, message: e.code === 'ENOENT' ? `${opts.setpriv ?? SETPRIV} not found (util-linux)` : e.message, durationMs: elapsed() });
    });
    child.on('close', (code, signal) => {
      // After a timeout, sweep whatever of the group survived SIGTERM without holding our pipes.
      if ((timedOut || aborted) && child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      finish({
        ok: true,
        exitCode: code,
        signal,
        stdout: out.text(),
        stderr: err.text(),
        truncated: out.truncated || err.truncated,
        durationMs: elapsed(),
        timedOut,
        aborted,
      });
    });
  });
}
