// Each persistent session's queue of QoS 1 messages, counted in Redis so that every hub node applies
// the same bound (hub.json maxQueuedMessages, maxQueuedMiB): a message is queued on the node where it
// was published and acknowledged on the node where its subscriber is. One hash per session with a
// message count and a byte count, changed by scripts so a check and its count are one step.
import type { Redis } from 'ioredis';
import type { QueueBounds, SharedQueueCounts } from '../mqtt/bounded-persistence.js';
import type { Logger } from '../../shared/log.js';

const keyOf = (clientId: string) => `pifleet:queue:${clientId}`;

/** KEYS[1] the session's hash; ARGV bytes, max messages, max bytes. 1 when counted, 0 when over a bound. */
const ADMIT = `
local m = tonumber(redis.call('HGET', KEYS[1], 'm') or '0')
local b = tonumber(redis.call('HGET', KEYS[1], 'b') or '0')
local bytes = tonumber(ARGV[1])
if m >= tonumber(ARGV[2]) or b + bytes > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'm', 1)
redis.call('HINCRBY', KEYS[1], 'b', bytes)
return 1`;

/** KEYS[1] the session's hash; ARGV bytes. Never below zero; an empty queue leaves no key. */
const RELEASE = `
local m = redis.call('HINCRBY', KEYS[1], 'm', -1)
local b = redis.call('HINCRBY', KEYS[1], 'b', -tonumber(ARGV[1]))
if m <= 0 then redis.call('DEL', KEYS[1]) elseif b < 0 then redis.call('HSET', KEYS[1], 'b', 0) end
return m`;

type Scripted = Redis & {
  pifleetAdmit(key: string, bytes: number, maxMessages: number, maxBytes: number): Promise<number>;
  pifleetRelease(key: string, bytes: number): Promise<number>;
};

export class RedisQueueCounts implements SharedQueueCounts {
  private readonly redis: Scripted;

  constructor(redis: Redis, private readonly log: Logger) {
    redis.defineCommand('pifleetAdmit', { numberOfKeys: 1, lua: ADMIT });
    redis.defineCommand('pifleetRelease', { numberOfKeys: 1, lua: RELEASE });
    this.redis = redis as Scripted;
  }

  async admit(clientId: string, bytes: number, bounds: QueueBounds): Promise<boolean> {
    return (await this.redis.pifleetAdmit(keyOf(clientId), bytes, bounds.maxMessages, bounds.maxBytes)) === 1;
  }

  release(clientId: string, bytes: number): void {
    this.redis.pifleetRelease(keyOf(clientId), bytes).catch((err: Error) => {
      // The count stays one too high until the session's queue is reset: a bound reached a little early.
      this.log.warn('cannot count an acknowledged message', { client: clientId, error: err.message });
    });
  }

  async reset(clientId: string): Promise<void> {
    await this.redis.del(keyOf(clientId));
  }

  /** What is counted for a session (tests, logs). */
  async queued(clientId: string): Promise<{ messages: number; bytes: number }> {
    const h = await this.redis.hgetall(keyOf(clientId));
    return { messages: Number(h.m ?? 0), bytes: Number(h.b ?? 0) };
  }
}
