// Debian's redis-server for the tests and the bench: started on 127.0.0.1 on a free port, in a
// temporary directory, saving nothing to disk; stopped by its PID. No system service is used.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from './process.js';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/** Why Redis cannot be started here, or null when it can. */
export function redisMissing(): string | null {
  return existsSync(REDIS_SERVER) ? null : `${REDIS_SERVER} is not installed (apt-get install redis-server; .ci/run installs it)`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class TestRedis {
  daemon!: Daemon;

  private constructor(readonly port: number, readonly dir: string, private readonly taskset: string[]) {}

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  /** `taskset` pins it (the bench: `['-c', '0']`). */
  static async start(opts: { taskset?: string[] } = {}): Promise<TestRedis> {
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-redis-'));
    for (let attempt = 0; ; attempt++) {
      const r = new TestRedis(await freePort(), dir, opts.taskset ?? []);
      try {
        await r.launch();
        return r;
      } catch (err) {
        if (attempt >= 2) { rmSync(dir, { recursive: true, force: true }); throw err; }
      }
    }
  }

  /** Starts it (again, after stop(): on the same port, empty). */
  async launch(): Promise<void> {
    const args = [
      '--port', String(this.port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--dir', this.dir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--databases', '1',
    ];
    this.daemon = this.taskset.length > 0
      ? Daemon.startProgram('taskset', [...this.taskset, REDIS_SERVER, ...args], 'redis')
      : Daemon.startProgram(REDIS_SERVER, args, 'redis');
    await this.daemon.waitForLine(/Ready to accept connections/, 10_000, 0);
  }

  /** Stops it (SIGKILL for an outage, or SIGTERM) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.daemon.stop(signal);
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
