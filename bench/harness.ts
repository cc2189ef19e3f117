// What the bench adds to the child processes it shares with the tests (harness/process.ts): running
// one of our CLIs where a failure is an error, and `pi-hub serve` on free ports of 127.0.0.1.
import { Daemon, HUB_CLI, run } from '../harness/process.js';

export { AGENT_CLI, Daemon, HUB_CLI, ROOT, run } from '../harness/process.js';
export { TestRedis, redisMissing } from '../harness/redis.js';

/** What `pi-hub serve` prints once both listeners are up: HTTPS/WSS port, mqtts port, root fingerprint. */
export const HUB_LISTENING = /listening https:\/\/127\.0\.0\.1:(\d+) mqtts:\/\/127\.0\.0\.1:(\d+).*fingerprint=([0-9A-F:]+)/;

/** Like run(), but a non-zero exit is an error naming the command and its stderr. */
export async function runOk(script: string, args: string[], opts: { stdin?: string } = {}): Promise<string> {
  const r = await run(script, args, opts);
  if (r.code !== 0) throw new Error(`${script} ${args[0] ?? ''} ${args[1] ?? ''} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export interface HubProcess { daemon: Daemon; port: number; mqttsPort: number; fingerprint: string }

/** `pi-hub serve` on `dataDir`, on free ports of 127.0.0.1, once it says it is listening. */
export async function startHub(dataDir: string): Promise<HubProcess> {
  const daemon = Daemon.start(HUB_CLI, ['serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--mqtts-port', '0'], 'pi-hub');
  try {
    const m = await daemon.waitForLine(HUB_LISTENING, 30_000, 0);
    return { daemon, port: Number(m[1]), mqttsPort: Number(m[2]), fingerprint: m[3]! };
  } catch (err) {
    await daemon.stop('SIGKILL');
    throw err;
  }
}
