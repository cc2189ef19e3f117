// `pi-hub serve --cluster redis://HOST:PORT`: what several hub nodes share through Redis — Aedes's
// persistence (sessions, subscriptions, queues, retained messages, wills: aedes-persistence-redis) and
// its emitter (routing between nodes: mqemitter-redis) — plus who holds each device's session, the
// queues' counts, and word of revocations. The control plane (hub.db, the CA) is not here: every node
// opens the same data directory. docs/ARCHITECTURE.md, "Several hub nodes".
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import type { Logger } from '../../shared/log.js';
import type { AsyncPersistence } from '../mqtt/persistence.js';
import type { RevocationFeed } from '../store/store.js';
import { RedisSessionHolders } from './holders.js';
import { RedisQueueCounts } from './queues.js';
import { openRedis, reachable } from './redis.js';
import { ClusterRevocationFeed, type Emitter } from './revocations.js';
import type { ClusterAddress } from './url.js';

export interface ClusterOptions {
  log: Logger;
  /** Queued messages a reconnecting session is sent at once: the queue bound (aedes-persistence-redis reads 1,000 otherwise). */
  maxQueuedMessages: number;
}

export interface RunningCluster {
  /** For the broker (broker/mqtt/broker.ts, HubBrokerDeps). */
  readonly broker: { persistence: AsyncPersistence; emitter: unknown; holders: RedisSessionHolders; sharedQueues: RedisQueueCounts };
  /** The store's feed, told to the other nodes and hearing theirs. */
  revocations(local: RevocationFeed): RevocationFeed;
  stop(): Promise<void>;
}

export async function startCluster(address: ClusterAddress, o: ClusterOptions): Promise<RunningCluster> {
  const log = o.log;
  const node = randomUUID();
  // Three connections: commands (the persistence and ours), and publish and subscribe for the emitter.
  const commands = openRedis(address, 'store', log, { enableAutoPipelining: true });
  const pub = openRedis(address, 'publish', log, { enableAutoPipelining: true });
  const sub = openRedis(address, 'subscribe', log);
  const all: Redis[] = [commands, pub, sub];
  try {
    await Promise.all(all.map((c) => reachable(c, address)));
  } catch (err) {
    all.forEach((c) => c.disconnect());
    throw err;
  }
  const emitter = MQEmitterRedis({ pubConn: pub, subConn: sub, concurrency: 100, matchEmptyLevels: true });
  // mqemitter-redis repeats its connections' errors here; openRedis has logged them already, and an
  // 'error' event without a listener would end the process.
  (emitter as unknown as { state: NodeJS.EventEmitter }).state.on('error', () => {});
  closeWithoutWaiting(emitter as unknown as ClosingEmitter, pub, sub);
  const require = createRequire(import.meta.url);
  const RedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (opts: object) => AsyncPersistence;
  const persistence = destroyWithoutWaiting(streamsAsReadables(new RedisPersistence({ conn: commands, maxSessionDelivery: o.maxQueuedMessages }), log));
  log.info('sharing MQTT state through Redis', { redis: address.shown, node });
  let stopped = false;
  return {
    broker: { persistence, emitter, holders: new RedisSessionHolders(commands), sharedQueues: new RedisQueueCounts(commands, log) },
    revocations: (local) => new ClusterRevocationFeed(local, emitter as unknown as Emitter, node, log),
    async stop() {
      if (stopped) return;
      stopped = true;
      // The emitter's two connections were closed with the broker (aedes closes its emitter).
      if (commands.status === 'ready') await commands.quit().catch(() => commands.disconnect());
      else commands.disconnect(); // QUIT would wait for a Redis that is not there
      for (const c of [pub, sub]) if (c.status !== 'end') c.disconnect();
    },
  };
}

/**
 * aedes-persistence-redis 12's async store returns async generators where aedes 1.2 wants streams: it
 * pipes the retained messages of a SUBSCRIBE (`stream.pipe is not a function` otherwise). Each is
 * wrapped as aedes-persistence's own stores do (docs/INTERNALS.md). A generator that fails (Redis away)
 * makes its stream emit 'error', and aedes does not listen on every one it reads (a will's, at a
 * stop): without a listener here that would end the process.
 */
function streamsAsReadables(p: AsyncPersistence, log: Logger): AsyncPersistence {
  const streams = ['createRetainedStream', 'createRetainedStreamCombi', 'outgoingStream', 'streamWill', 'getClientList'] as const;
  const target = p as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of streams) {
    const make = target[name]!.bind(p);
    target[name] = (...args: unknown[]) => Readable.from(make(...args) as AsyncIterable<unknown>)
      .on('error', (err: Error) => log.warn('reading the shared store failed', { what: name, error: err.message }));
  }
  return p;
}

/**
 * aedes-persistence-redis's destroy first unsubscribes through the emitter and waits for it: with Redis
 * away, never, and the broker's stop (which destroys its store) could not end. Past 2 s it is left; the
 * cluster's stop drops the connection anyway.
 */
function destroyWithoutWaiting(p: AsyncPersistence): AsyncPersistence {
  const destroy = p.destroy.bind(p);
  p.destroy = () => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, 2_000);
    destroy().then(() => { clearTimeout(timer); resolve(); }, (err: unknown) => { clearTimeout(timer); reject(err); });
  });
  return p;
}

type ClosingEmitter = { close(cb: () => void): void; _close(cb: () => void): void };

/**
 * mqemitter-redis closes by QUIT on both connections and waits for both to end: with Redis away, never,
 * and the node could not stop. Past 2 s, or at once when a connection is not up, they are dropped.
 */
function closeWithoutWaiting(emitter: ClosingEmitter, pub: Redis, sub: Redis): void {
  const close = emitter.close.bind(emitter);
  emitter.close = (cb) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cb();
    };
    const drop = () => {
      pub.disconnect();
      sub.disconnect();
      emitter._close(finish); // the in-process part: marks it closed
    };
    const timer = setTimeout(drop, 2_000);
    if (pub.status !== 'ready' || sub.status !== 'ready') drop();
    else close(finish);
  };
}
