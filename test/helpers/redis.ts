// The tests' Redis: harness/redis.ts, shared with the bench.
export * from '../../harness/redis.js';
