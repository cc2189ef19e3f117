// Revocations told over Redis pub/sub (broker/cluster/revocations.ts), apart from the shared hub.db:
// two nodes' feeds on two different databases, so only Redis can carry the word. A revocation in one
// store makes the other node look within a second (issue 13). Real Redis (Debian's redis-server),
// the real store and cluster code; skipped only where redis-server is not installed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningCluster, startCluster } from '../../../broker/cluster/cluster.js';
import { ClusterUrlSchema } from '../../../broker/cluster/url.js';
import { SqliteStore } from '../../../broker/store/sqlite-store.js';
import { REVOKE_REASON } from '../../../broker/store/store.js';
import { createLogger } from '../../../shared/log.js';
import { withTimeout } from '../../helpers/process.js';
import { TestRedis, redisMissing } from '../../helpers/redis.js';

const missing = redisMissing();

describe('revocations between hub nodes over Redis', { skip: missing ?? false }, () => {
  let redis: TestRedis;
  let dir: string;
  const stores: SqliteStore[] = [];
  const clusters: RunningCluster[] = [];
  const feeds: Array<{ stop(): void }> = [];

  before(async () => {
    redis = await TestRedis.start();
    dir = mkdtempSync(join(tmpdir(), 'pifleet-revocations-'));
  });
  after(async () => {
    for (const f of feeds) f.stop();
    for (const c of clusters) await c.stop();
    for (const s of stores) s.close();
    rmSync(dir, { recursive: true, force: true });
    await redis?.remove();
  });

  async function node(name: string): Promise<{ store: SqliteStore; changes: number[] }> {
    const store = SqliteStore.open(join(dir, `${name}.db`));
    stores.push(store);
    const cluster = await startCluster(ClusterUrlSchema.parse(redis.url), { log: createLogger(name), maxQueuedMessages: 1000 });
    clusters.push(cluster);
    const changes: number[] = [];
    const feed = cluster.revocations(store.revocationFeed());
    feeds.push(feed);
    feed.start(() => changes.push(Date.now()));
    return { store, changes };
  }

  it("a revocation on A's database reaches B within a second, though B's database never changes", async () => {
    const a = await node('a');
    const b = await node('b');
    const user = a.store.users.add('alice', null, false);
    const now = Date.now();
    a.store.certs.add({ serial: 'ab01', kind: 'device', userId: user.id, deviceSerial: 'pi-1', apiKeyId: null, notBefore: now, notAfter: now + 86_400_000, pem: '' });
    assert.deepEqual(b.changes, [], 'nothing revoked yet');
    const t0 = Date.now();
    assert.equal(a.store.certs.revoke('ab01', REVOKE_REASON.operator), true);
    await withTimeout((async () => { while (b.changes.length === 0) await new Promise((r) => setTimeout(r, 10)); })(), 5_000, 'B to hear of it');
    assert.ok(b.changes[0]! - t0 < 1_000, `B heard after ${b.changes[0]! - t0} ms`);
    assert.ok(a.changes.length >= 1, 'A saw its own');
  });
});
