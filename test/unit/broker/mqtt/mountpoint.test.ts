// Mountpoint rewriting (broker/mountpoint.ts), table-driven: packets in, exact packets out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mayPublish, maySubscribe } from '../../../../broker/mqtt/acl.js';
import {
  type InboundPacket, type Principal, internalClientId, mountInbound, mountOf, principalFromClientId, unmount, unmountOutbound,
} from '../../../../broker/mqtt/mountpoint.js';

const M = mountOf('7');

describe('mountOf / unmount', () => {
  it('mounts under u/<userId>/', () => assert.equal(M, 'u/7/'));
  const rows: Array<[string, string, string | null]> = [
    ['u/7/', 'u/7/devices/a/status', 'devices/a/status'],
    ['u/7/', 'u/7/', ''],
    ['u/7/', 'u/70/devices/a/status', null], // a prefix of the id is another user
    ['u/7/', 'u/8/devices/a/status', null],
    ['u/7/', 'devices/a/status', null],
    ['u/7/', 'u/7', null],
    ['u/7/', '$SYS/x', null],
  ];
  for (const [mount, topic, want] of rows) {
    it(`unmount(${mount}, ${topic}) → ${JSON.stringify(want)}`, () => assert.equal(unmount(mount, topic), want));
  }
});

describe('mountInbound', () => {
  const rows: Array<[string, InboundPacket, InboundPacket]> = [
    ['publish', { cmd: 'publish', topic: 'devices/a/cmd/req' }, { cmd: 'publish', topic: 'u/7/devices/a/cmd/req' }],
    ['publish on #-like names is still only prefixed (aedes refuses it after)', { cmd: 'publish', topic: '#' }, { cmd: 'publish', topic: 'u/7/#' }],
    ['publish with an empty topic', { cmd: 'publish', topic: '' }, { cmd: 'publish', topic: 'u/7/' }],
    ['publish on a $SYS topic', { cmd: 'publish', topic: '$SYS/x' }, { cmd: 'publish', topic: 'u/7/$SYS/x' }],
    ['publish on another mountpoint spelled out', { cmd: 'publish', topic: 'u/8/devices/a/cmd/req' }, { cmd: 'publish', topic: 'u/7/u/8/devices/a/cmd/req' }],
    [
      'subscribe: every filter, nothing else',
      { cmd: 'subscribe', subscriptions: [{ topic: '#', qos: 1 } as { topic: string }, { topic: '$share/g/#', qos: 0 } as { topic: string }, { topic: '$SYS/#' }] },
      { cmd: 'subscribe', subscriptions: [{ topic: 'u/7/#', qos: 1 } as { topic: string }, { topic: 'u/7/$share/g/#', qos: 0 } as { topic: string }, { topic: 'u/7/$SYS/#' }] },
    ],
    ['subscribe to the raw mountpoint of another user', { cmd: 'subscribe', subscriptions: [{ topic: 'u/8/#' }] }, { cmd: 'subscribe', subscriptions: [{ topic: 'u/7/u/8/#' }] }],
    ['unsubscribe (aedes has no hook for it)', { cmd: 'unsubscribe', unsubscriptions: ['devices/#', '+/#'] }, { cmd: 'unsubscribe', unsubscriptions: ['u/7/devices/#', 'u/7/+/#'] }],
    ['connect with a will', { cmd: 'connect', will: { topic: 'devices/a/status' } }, { cmd: 'connect', will: { topic: 'u/7/devices/a/status' } }],
    ['connect without a will', { cmd: 'connect' }, { cmd: 'connect' }],
    ['connect with will null', { cmd: 'connect', will: null }, { cmd: 'connect', will: null }],
    ['puback carries no topic', { cmd: 'puback' }, { cmd: 'puback' }],
    ['pingreq', { cmd: 'pingreq' }, { cmd: 'pingreq' }],
    ['disconnect', { cmd: 'disconnect' }, { cmd: 'disconnect' }],
  ];
  for (const [name, input, want] of rows) {
    it(name, () => {
      const packet = structuredClone(input);
      mountInbound(M, packet);
      assert.deepEqual(packet, want);
    });
  }

  it('rewrites in place, so aedes handles the very object it was given', () => {
    const sub = { topic: 'devices/#', qos: 1 };
    const packet = { cmd: 'subscribe', subscriptions: [sub] };
    mountInbound(M, packet);
    assert.equal(packet.subscriptions[0], sub);
    assert.equal(sub.topic, 'u/7/devices/#');
  });
});

describe('unmountOutbound', () => {
  const rows: Array<[string, string | null]> = [
    ['u/7/devices/a/status', 'devices/a/status'],
    ['u/7/devices/a/cmd/res/r1', 'devices/a/cmd/res/r1'],
    ['devices/a/status', 'devices/a/status'], // already stripped: QoS 1 resends, the offline queue
    ['u/8/devices/a/status', null], // another user's
    ['u/70/devices/a/status', null],
    ['u/devices/a/status', null],
    ['$SYS/broker/new/clients', null],
    ['$pifleet/void', null], // where the hub diverts refused messages
    ['devices', null],
    ['devicesX/a', null],
    ['other/topic', null],
  ];
  for (const [topic, want] of rows) {
    it(`${topic} → ${JSON.stringify(want)}`, () => assert.equal(unmountOutbound(M, topic), want));
  }

  it('is idempotent for every topic the ACL lets into a mountpoint', () => {
    const device: Principal = { kind: 'device', userId: '7', serial: 'pi-1' };
    const user: Principal = { kind: 'user', userId: '7' };
    const inner = [
      'devices/pi-1/status', 'devices/pi-1/stats', 'devices/pi-1/manifest', 'devices/pi-1/doctor', 'devices/pi-1/gpio/4/state',
      'devices/pi-1/cmd/res/r1', 'devices/pi-1/cmd/req', 'devices/pi-1/gpio/4/set',
    ];
    for (const t of inner) {
      assert.ok(mayPublish(device, t) || mayPublish(user, t), `${t} is publishable`);
      const once = unmountOutbound(M, M + t);
      assert.equal(once, t);
      assert.equal(unmountOutbound(M, once!), t, `stripping ${t} twice`);
    }
    for (const f of ['devices/#', 'devices/pi-1/cmd/req', 'devices/pi-1/gpio/+/set']) {
      assert.ok(maySubscribe(user, f) || maySubscribe(device, f));
    }
  });
});

describe('internalClientId / principalFromClientId', () => {
  const rows: Array<[Principal, string, string]> = [
    [{ kind: 'device', userId: '1', serial: 'pi-1' }, 'pi-1', 'd/1/pi-1'],
    [{ kind: 'device', userId: '1', serial: 'pi-1' }, 'anything', 'd/1/pi-1'], // a device is its serial
    [{ kind: 'user', userId: '1' }, 'dash', 'u/1/dash'],
    [{ kind: 'user', userId: '12' }, 'dash', 'u/12/dash'],
    [{ kind: 'user', userId: '1' }, '2/dash', 'u/1/2/dash'], // no confusion with user 12
    [{ kind: 'user', userId: '1' }, 'd/2/pi-1', 'u/1/d/2/pi-1'], // nor with a device's id
    [{ kind: 'user', userId: '1' }, 'u/2/dash', 'u/1/u/2/dash'],
  ];
  for (const [p, cid, want] of rows) {
    it(`${p.kind} of user ${p.userId} asking for ${JSON.stringify(cid)} → ${want}, and back`, () => {
      const id = internalClientId(p, cid);
      assert.equal(id, want);
      const back = principalFromClientId(id);
      assert.deepEqual(back, p.kind === 'device' ? p : { kind: 'user', userId: p.userId });
    });
  }

  it('gives different principals different ids for the same requested id', () => {
    const cid = 'shared-id';
    const ids = [
      internalClientId({ kind: 'user', userId: '1' }, cid),
      internalClientId({ kind: 'user', userId: '2' }, cid),
      internalClientId({ kind: 'device', userId: '1', serial: cid }, cid),
      internalClientId({ kind: 'device', userId: '2', serial: cid }, cid),
    ];
    assert.equal(new Set(ids).size, ids.length);
  });

  it("refuses a user's empty client id: every such client of the user would share one session", () => {
    assert.throws(() => internalClientId({ kind: 'user', userId: '1' }, ''), /MQTT-3\.1\.3-6/);
  });

  const bad: Array<string | undefined> = [undefined, '', 'pi-1', 'x/1/a', 'u/abc/x', 'u/1', 'd/1/', 'u//x', 'aedes_1234'];
  for (const id of bad) {
    it(`${JSON.stringify(id)} names no principal`, () => assert.equal(principalFromClientId(id), null));
  }
});
