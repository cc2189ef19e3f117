// Who holds each device's session across hub nodes (broker/mqtt/holders.ts says why), in one Redis
// hash: client id → the connection that claimed it last. Only devices claim (only a device has a will
// or is marked offline by the hub), so the hash holds at most one field per enrolled Pi.
import type { Redis } from 'ioredis';
import type { SessionHolders } from '../mqtt/holders.js';

export const HOLDERS_KEY = 'pifleet:holders';

export class RedisSessionHolders implements SessionHolders {
  constructor(private readonly redis: Redis) {}

  async claim(clientId: string, connection: string): Promise<void> {
    await this.redis.hset(HOLDERS_KEY, clientId, connection);
  }

  holder(clientId: string): Promise<string | null> {
    return this.redis.hget(HOLDERS_KEY, clientId);
  }
}
