// Connections to the Redis that hub nodes share. Each one reconnects for ever (at most 2 s apart) and
// fails a command after a few tries instead of holding it through a long outage: what needs Redis is
// then refused or retried by its caller (a Pi's CONNECT is refused with CONNACK 3 and the Pi retries),
// and the node itself keeps running. An outage is logged when it starts and when it ends, not once per
// reconnect attempt.
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../../shared/log.js';
import type { ClusterAddress } from './url.js';

const OPTIONS: RedisOptions = {
  connectTimeout: 5_000,
  /** A command waits through at most this many reconnections (about a second when Redis is down). */
  maxRetriesPerRequest: 3,
  retryStrategy: (times) => Math.min(times * 100, 2_000),
  /** The hub reports a lost Redis itself (below); ioredis would print each failed attempt. */
  showFriendlyErrorStack: false,
};

export function openRedis(address: ClusterAddress, name: string, log: Logger, extra: RedisOptions = {}): Redis {
  const conn = new Redis(address.url, { ...OPTIONS, connectionName: `pi-hub-${name}`, ...extra });
  let down: string | null = null;
  let up = false; // before the first connection, start-up says what failed (reachable)
  conn.on('error', (err: Error) => {
    if (down !== null || !up) return;
    down = err.message;
    log.error('Redis unreachable: MQTT connections are refused and what needs it fails until it is back', {
      redis: address.shown, connection: name, error: err.message,
    });
  });
  conn.on('ready', () => {
    up = true;
    if (down === null) return;
    down = null;
    log.info('Redis reachable again', { redis: address.shown, connection: name });
  });
  return conn;
}

/** Waits until `conn` answers PING, or fails with a message that says where it looked. */
export async function reachable(conn: Redis, address: ClusterAddress, timeoutMs = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let first: string | null = null; // "connect ECONNREFUSED …" says more than "max retries reached"
  const onError = (err: Error) => { first ??= err.message; };
  conn.on('error', onError);
  try {
    await Promise.race([
      conn.ping(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs); }),
    ]);
  } catch (err) {
    throw new Error(`cannot reach Redis at ${address.shown}: ${first ?? (err as Error).message}`);
  } finally {
    clearTimeout(timer);
    conn.off('error', onError);
  }
}
