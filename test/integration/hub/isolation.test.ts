// User isolation through the real hub with mqtt.js, over wss and mqtts: two users, alice (A) and bob
// (B), each with devices and a user certificate. B tries every way out of his mountpoint and must
// never see or touch A's messages; devices and users stay inside the ACL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { TestHub } from '../../helpers/hub.js';
import { Collector, type Transport, closed, connect, end, granted, publish, publishRefused, tryConnect } from '../../helpers/mqtt.js';
import { devicePublishes, manifest, stats, status } from '../../helpers/payloads.js';
import { sleep, withTimeout } from '../../helpers/process.js';
import { type Tenant, addTenant, device } from '../../helpers/tenants.js';

const REFUSED = 0x80;

let hub: TestHub;
let A: Tenant;
let B: Tenant;

before(async () => {
  hub = await TestHub.start();
  A = await addTenant(hub, 'alice', ['pi-a1', 'pi-a2']);
  B = await addTenant(hub, 'bob', ['pi-b1']);
});
after(async () => { await hub?.stop(); });

/** Nothing of `t`'s devices (by serial) among the messages `c` received. */
function noneOf(c: Collector, t: Tenant): void {
  const leaked = c.messages.filter((m) => Object.keys(t.devices).some((s) => m.topic.includes(s) || m.payload.includes(s)));
  assert.deepEqual(leaked, [], `${t.name}'s messages leaked`);
}

for (const transport of ['wss', 'mqtts'] as Transport[]) {
  describe(`over ${transport}`, () => {
    const clients: MqttClient[] = [];
    const open = async (creds: { key: string; cert: string }, o: Parameters<typeof connect>[2] = {}) => {
      const c = await connect(hub, creds, { transport, ...o });
      clients.push(c);
      return c;
    };
    after(async () => { await end(...clients); });

    it("B's subscriptions: what escapes the mountpoint is refused, what is granted only ever carries B's own messages", async () => {
      const a = new Collector(await open(A.user));
      await granted(a.client, ['devices/#']);
      const b = new Collector(await open(B.user));
      const filters = ['#', '+/#', 'devices/#', '$SYS/#', `u/${A.id}/#`, '$share/g/#', '$share/g/devices/#', 'devices/pi-a1/#', 'devices/+/status', '+/+/+', `u/${A.id}/devices/pi-a1/status`];
      const codes = await granted(b.client, filters);
      assert.deepEqual(
        Object.fromEntries(filters.map((f, i) => [f, codes[i]])),
        {
          '#': REFUSED, '+/#': REFUSED, 'devices/#': 1, '$SYS/#': REFUSED, [`u/${A.id}/#`]: REFUSED, '$share/g/#': REFUSED,
          '$share/g/devices/#': REFUSED, 'devices/pi-a1/#': 1, 'devices/+/status': 1, '+/+/+': REFUSED,
          [`u/${A.id}/devices/pi-a1/status`]: REFUSED,
        },
      );

      const a1 = await open(device(A, 'pi-a1'), { clientId: 'pi-a1' });
      const b1 = await open(device(B, 'pi-b1'), { clientId: 'pi-b1' });
      await publish(a1, 'devices/pi-a1/status', status(), { retain: true });
      await publish(a1, 'devices/pi-a1/stats', stats(0.25));
      await publish(a1, 'devices/pi-a1/manifest', manifest('alice-pi'), { retain: true });
      // A's owner receives them, topics stripped: the messages really went through the hub
      assert.equal(JSON.parse((await a.next('devices/pi-a1/stats')).payload).cpu.load, 0.25);
      await a.next('devices/pi-a1/manifest');
      // B's own device reaches B through the same subscriptions: they work, and come after A's
      await publish(b1, 'devices/pi-b1/status', status());
      const mine = await b.next('devices/pi-b1/status');
      assert.equal(mine.topic, 'devices/pi-b1/status');
      await sleep(150);
      noneOf(b, A);
      assert.ok(b.messages.every((m) => m.topic.startsWith('devices/pi-b1/')), JSON.stringify(b.messages));
    });

    it("A's retained messages never reach B, also when B subscribes after they were retained", async () => {
      const a1 = await open(device(A, 'pi-a1'), { clientId: 'pi-a1' });
      const b1 = await open(device(B, 'pi-b1'), { clientId: 'pi-b1' });
      await publish(a1, 'devices/pi-a1/status', status(true), { retain: true });
      await publish(b1, 'devices/pi-b1/status', status(true), { retain: true });
      // a fresh subscription gets the retained messages of its own mountpoint…
      const a = new Collector(await open(A.user));
      await granted(a.client, ['devices/+/status']);
      const ra = await a.next('devices/pi-a1/status');
      assert.equal(ra.retain, true);
      // …and only those
      const b = new Collector(await open(B.user));
      assert.deepEqual(await granted(b.client, ['devices/#', 'devices/pi-a1/status']), [1, 1]);
      const rb = await b.next('devices/pi-b1/status');
      assert.equal(rb.retain, true);
      await sleep(200);
      noneOf(b, A);
    });

    it("A's device's will reaches A and never B, live or retained", async () => {
      const a = new Collector(await open(A.user));
      await granted(a.client, ['devices/#']);
      const b = new Collector(await open(B.user));
      await granted(b.client, ['devices/#']);
      const a2 = await connect(hub, device(A, 'pi-a2'), {
        transport, clientId: 'pi-a2',
        will: { topic: 'devices/pi-a2/status', payload: Buffer.from(JSON.stringify(status(false))), qos: 1, retain: true },
      });
      await publish(a2, 'devices/pi-a2/status', status(true), { retain: true });
      await a.live('devices/pi-a2/status', 5_000, (m) => JSON.parse(m.payload).online === true);
      a2.stream.destroy(); // dies without DISCONNECT: the hub publishes the will
      const will = await a.live('devices/pi-a2/status', 5_000, (m) => JSON.parse(m.payload).online === false);
      assert.equal(will.retain, false); // delivered live…
      // B, live and after the fact
      const late = new Collector(await open(B.user));
      await granted(late.client, ['devices/#']);
      const b1 = await open(device(B, 'pi-b1'), { clientId: 'pi-b1' });
      await publish(b1, 'devices/pi-b1/stats', stats());
      await b.next('devices/pi-b1/stats');
      await late.next('devices/pi-b1/stats');
      await sleep(150);
      noneOf(b, A);
      noneOf(late, A);
      // …and retained: A's retained status is the will now
      const again = new Collector(await open(A.user));
      await granted(again.client, ['devices/pi-a2/status']);
      const retained = await again.next('devices/pi-a2/status');
      assert.deepEqual([retained.retain, JSON.parse(retained.payload).online], [true, false]);
    });

    it("B publishing on A's device topics reaches neither A's device nor A", async () => {
      const a = new Collector(await open(A.user));
      await granted(a.client, ['devices/#']);
      const a1 = new Collector(await open(device(A, 'pi-a1'), { clientId: 'pi-a1' }));
      assert.deepEqual(await granted(a1.client, ['devices/pi-a1/cmd/req', 'devices/pi-a1/gpio/+/set']), [1, 1]);
      const b = await open(B.user);
      // what a user may publish lands in B's own mountpoint
      await publish(b, 'devices/pi-a1/cmd/req', { v: 1, id: 'bob-1', module: 'core', command: 'reboot' });
      await publish(b, 'devices/pi-a1/gpio/4/set', { v: 1, value: 1 });
      // what only a device may publish is refused outright
      await publishRefused(await open(B.user), 'devices/pi-a1/status', status(false));
      await publishRefused(await open(B.user), `u/${A.id}/devices/pi-a1/cmd/req`, { v: 1, id: 'bob-2', module: 'core', command: 'reboot' });
      // barrier: A's own request arrives, so B's, published before, would have too
      const aliceReq = { v: 1, id: 'alice-1', module: 'core', command: 'reboot' };
      await publish(a.client, 'devices/pi-a1/cmd/req', aliceReq);
      const got = await a1.next('devices/pi-a1/cmd/req');
      assert.equal(JSON.parse(got.payload).id, 'alice-1');
      await sleep(150);
      assert.deepEqual(a1.messages.map((m) => JSON.parse(m.payload).id), ['alice-1']);
      assert.deepEqual(a.liveMessages.map((m) => m.topic), ['devices/pi-a1/cmd/req']);
      assert.equal(JSON.parse(a.liveMessages[0]!.payload).id, 'alice-1');
    });

    it("a device keeps to its own topics: another device's are refused, publish and subscribe", async () => {
      const a = new Collector(await open(A.user));
      await granted(a.client, ['devices/#']);
      const a1 = await open(device(A, 'pi-a1'), { clientId: 'pi-a1' });
      const filters = ['#', '+/#', 'devices/#', 'devices/pi-a2/cmd/req', 'devices/+/cmd/req', 'devices/pi-a1/#', 'devices/pi-a1/status', '$SYS/#', 'devices/pi-a1/cmd/req', 'devices/pi-a1/gpio/+/set'];
      assert.deepEqual(await granted(a1, filters), [REFUSED, REFUSED, REFUSED, REFUSED, REFUSED, REFUSED, REFUSED, REFUSED, 1, 1]);
      for (const [kind, topic, payload] of devicePublishes('pi-a2')) {
        const c = await open(device(A, 'pi-a1'), { clientId: 'pi-a1' });
        await publishRefused(c, topic, payload).catch((e: Error) => assert.fail(`pi-a1 publishing pi-a2's ${kind}: ${e.message}`));
      }
      await publishRefused(await open(device(A, 'pi-a1'), { clientId: 'pi-a1' }), 'devices/pi-a2/cmd/req', { v: 1, id: 'x', module: 'core', command: 'reboot' });
      // barrier: pi-a2's own status arrives; nothing pi-a1 sent under pi-a2's name did
      const a2 = await open(device(A, 'pi-a2'), { clientId: 'pi-a2' });
      await publish(a2, 'devices/pi-a2/stats', stats(0.75));
      await a.next('devices/pi-a2/stats');
      await sleep(150);
      assert.deepEqual(a.liveMessages.map((m) => m.topic), ['devices/pi-a2/stats']);
      assert.equal(JSON.parse(a.on('devices/pi-a2/stats')[0]!.payload).cpu.load, 0.75);
    });

    it('a user cannot publish what only a device may, even for its own devices', async () => {
      const a = new Collector(await open(A.user));
      await granted(a.client, ['devices/#']);
      for (const [kind, topic, payload] of devicePublishes('pi-a1')) {
        await publishRefused(await open(A.user), topic, payload).catch((e: Error) => assert.fail(`a user publishing ${kind}: ${e.message}`));
      }
      const a1 = await open(device(A, 'pi-a1'), { clientId: 'pi-a1' });
      await publish(a1, 'devices/pi-a1/stats', stats(0.5));
      await a.next('devices/pi-a1/stats');
      await sleep(150);
      assert.deepEqual(a.liveMessages.map((m) => m.topic), ['devices/pi-a1/stats']);
    });

    it('a will the ACL would not let its client publish is refused at CONNECT', async () => {
      const will = (topic: string, payload: object | string) => ({ topic, payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), qos: 1 as const, retain: true });
      const rows: Array<[string, { key: string; cert: string }, string, ReturnType<typeof will>]> = [
        ["a device's will on another device's status", device(A, 'pi-a1'), 'pi-a1', will('devices/pi-a2/status', status(false))],
        ["a device's will that is no valid status", device(A, 'pi-a1'), 'pi-a1', will('devices/pi-a1/status', { v: 1, online: 'no' })],
        ["a user's will on a device's status", A.user, 'alice-will', will('devices/pi-a1/status', status(false))],
        ["B's will in A's raw mountpoint", B.user, 'bob-will', will(`u/${A.id}/devices/pi-a1/cmd/req`, { v: 1, id: 'w', module: 'core', command: 'reboot' })],
        // a request as a will would run when the connection drops, even after a revocation (issue 7, F4)
        ["a user's will that is a valid request to its own device", A.user, 'alice-req-will', will('devices/pi-a1/cmd/req', { v: 1, id: 'w1', module: 'core', command: 'reboot' })],
        ["a user's will that is a valid GPIO change on its own device", A.user, 'alice-gpio-will', will('devices/pi-a1/gpio/17/set', { v: 1, value: 1 })],
        ["a device's will that is a valid result", device(A, 'pi-a1'), 'pi-a1', will('devices/pi-a1/cmd/res/w2', { v: 1, id: 'w2', ok: true, exitCode: 0, signal: null, stdout: '', stderr: '', truncated: false, durationMs: 1 })],
      ];
      for (const [name, creds, clientId, w] of rows) {
        const r = await tryConnect(hub, creds, { transport, clientId, will: w });
        await end(r.client);
        assert.deepEqual([r.outcome, r.detail], ['refused', '5 Connection refused: Not authorized'], name);
      }
      // the same device with its own, valid will connects
      const ok = await tryConnect(hub, device(A, 'pi-a1'), { transport, clientId: 'pi-a1', will: will('devices/pi-a1/status', status(false)) });
      assert.equal(ok.outcome, 'connected', ok.detail);
      ok.client!.end(false); // a DISCONNECT: no will
    });

    it('a refused connection, once dropped, stays dropped (no half-open session)', async () => {
      const c = await open(B.user);
      const gone = closed(c);
      c.publish('devices/pi-b1/status', JSON.stringify(status()), { qos: 0 });
      await withTimeout(gone, 3_000, 'drop after a QoS 0 refused publish');
      assert.equal(c.connected, false);
    });
  });
}
