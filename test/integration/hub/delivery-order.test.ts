// A QoS 1 message the hub stores before acknowledging it (mqtt.db: stored, committed, then delivered)
// reaches its subscribers even when QoS 0 messages published meanwhile overtake it. aedes's own
// deduplication kept only the highest broker counter delivered to each client and dropped anything
// older that came after: a retained doctor report overtaken by a command result never arrived.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestHub } from '../../helpers/hub.js';
import { connect, connectCollector, end } from '../../helpers/mqtt.js';
import { stats, status } from '../../helpers/payloads.js';
import { waitFor } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

let hub: TestHub;
let A: Tenant;

before(async () => {
  hub = await TestHub.start();
  A = await addTenant(hub, 'alice', ['pi-a1']);
});
after(async () => { await hub?.stop(); });

describe('deliveries on the SQLite persistence', () => {
  for (const persistent of [false, true]) {
    it(`every QoS 1 message arrives although QoS 0 ones overtake it (subscriber ${persistent ? 'persistent' : 'clean'})`, async () => {
      const watcher = await connectCollector(hub, A.user, { transport: 'mqtts', ...(persistent ? { clientId: `watch-${Date.now()}`, clean: false } : {}) });
      await watcher.client.subscribeAsync('devices/pi-a1/#', { qos: 1 });
      const pi = await connect(hub, device(A, 'pi-a1'), { transport: 'mqtts', clientId: 'pi-a1' });
      const N = 40;
      try {
        for (let i = 0; i < N; i++) {
          // Written back to back: the QoS 1 status waits for its commit, the stats do not.
          void pi.publishAsync('devices/pi-a1/status', JSON.stringify({ ...status(true), ts: i + 1 }), { qos: 1, retain: true });
          pi.publish('devices/pi-a1/stats', JSON.stringify(stats()), { qos: 0 });
        }
        // live ones only (the retained status given at SUBSCRIBE is an earlier test's)
        const ours = () => watcher.on('devices/pi-a1/status').filter((m) => !m.retain).map((m) => (JSON.parse(m.payload) as { ts: number }).ts);
        await waitFor(() => new Set(ours()).size >= N, 10_000, `${N} statuses`).catch(() => {});
        const seen = ours();
        assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1), 'each status, once at least');
        assert.equal(seen.length, N, 'and none twice');
      } finally {
        await end(pi);
        await end(watcher.client);
      }
    });
  }
});
