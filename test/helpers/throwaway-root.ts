// A throwaway root for installing packages for real: this machine's own root seen through an overlay
// whose writable layer is a tmpfs, in a private mount namespace (unshare, as root). dpkg, adduser and
// the maintainer scripts run chrooted in it exactly as on a real system, and every change vanishes
// with the namespace; the machine's own root is never written.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunResult, runProgram } from './process.js';

const SETUP = `set -e
T="$1"; H="$2"
mount -t tmpfs -o size=3g tmpfs "$T"
mkdir "$T/upper" "$T/work" "$T/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/root"
R="$T/root"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
# No systemd runs in here: the maintainer scripts must see no /run/systemd/system.
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
mkdir -p "$R/mnt/pifleet"
mount --bind "$H" "$R/mnt/pifleet"
echo ready
exec sleep 100000
`;

const ENV = ['env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8', 'DEBIAN_FRONTEND=noninteractive'];

export class ThrowawayRoot {
  private constructor(private readonly holder: ChildProcess, private readonly mountDir: string, readonly hostDir: string) {}

  /** `hostDir` appears as /mnt/pifleet inside: put packages there. */
  static async create(): Promise<ThrowawayRoot> {
    const mountDir = mkdtempSync(join(tmpdir(), 'pifleet-root-'));
    const hostDir = mkdtempSync(join(tmpdir(), 'pifleet-root-in-'));
    const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', SETUP, 'setup', mountDir, hostDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    holder.stderr!.on('data', (d) => (err += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`throwaway root: no answer in 10 s: ${err}`)), 10_000);
      holder.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(timer); resolve(); } });
      holder.on('exit', (code) => { clearTimeout(timer); reject(new Error(`throwaway root: setup failed (${code}): ${err}`)); });
    });
    return new ThrowawayRoot(holder, mountDir, hostDir);
  }

  /** A shell command inside, as root, with a clean environment. */
  sh(command: string, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return runProgram('nsenter', ['-t', String(this.holder.pid), '-m', '--', 'chroot', join(this.mountDir, 'root'), ...ENV, '/bin/sh', '-c', command], { stdin: opts.stdin, timeoutMs: opts.timeoutMs ?? 120_000 });
  }

  /** Like sh(), but a non-zero exit fails with the command's output. */
  async ok(command: string, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.sh(command, opts);
    if (r.code !== 0) throw new Error(`in the throwaway root: ${command} → ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  async close(): Promise<void> {
    if (this.holder.exitCode === null) {
      const exited = new Promise((r) => this.holder.once('exit', r));
      this.holder.kill('SIGKILL');
      await exited;
    }
    rmSync(this.mountDir, { recursive: true, force: true });
    rmSync(this.hostDir, { recursive: true, force: true });
  }
}
