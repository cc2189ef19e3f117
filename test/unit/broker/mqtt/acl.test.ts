// The ACL inside a mountpoint (docs/ARCHITECTURE.md "Mountpoints and ACL"), table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mayPublish, maySubscribe, publishAllowed } from '../../../../broker/mqtt/acl.js';
import type { Principal } from '../../../../broker/mqtt/mountpoint.js';
import { parseDeviceTopic } from '../../../../shared/topics.js';

const device: Principal = { kind: 'device', userId: '1', serial: 'pi-1' };
const user: Principal = { kind: 'user', userId: '1' };

describe('mayPublish', () => {
  // [topic, device pi-1 may, user may]
  const rows: Array<[string, boolean, boolean]> = [
    // what only a device may publish, and only under its own serial
    ['devices/pi-1/status', true, false],
    ['devices/pi-1/stats', true, false],
    ['devices/pi-1/manifest', true, false],
    ['devices/pi-1/doctor', true, false],
    ['devices/pi-1/gpio/17/state', true, false],
    ['devices/pi-1/cmd/res/r1', true, false],
    ['devices/pi-2/status', false, false],
    ['devices/pi-2/stats', false, false],
    ['devices/pi-2/manifest', false, false],
    ['devices/pi-2/doctor', false, false],
    ['devices/pi-2/gpio/17/state', false, false],
    ['devices/pi-2/cmd/res/r1', false, false],
    // what only a user may publish, to any of its devices
    ['devices/pi-1/cmd/req', false, true],
    ['devices/pi-2/cmd/req', false, true],
    ['devices/pi-1/gpio/17/set', false, true],
    ['devices/pi-2/gpio/4/set', false, true],
    // nobody
    ['devices/pi-1/cmd/res', false, false],
    ['devices/pi-1/gpio/60/set', false, false],
    ['devices/pi-1/gpio/17', false, false],
    ['devices//status', false, false], // the empty level
    ['devices/pi-1/status/x', false, false],
    ['devices/+/cmd/req', false, false],
    ['devices/#', false, false],
    ['#', false, false],
    ['devices', false, false],
    ['', false, false],
    ['status', false, false],
    ['$SYS/broker/x', false, false],
    ['$share/g/devices/pi-1/cmd/req', false, false],
    ['u/2/devices/pi-1/cmd/req', false, false], // another mountpoint, spelled out
    ['u/1/devices/pi-1/status', false, false],
  ];
  for (const [topic, dev, usr] of rows) {
    it(`${JSON.stringify(topic)}: device ${dev ? 'may' : 'may not'}, user ${usr ? 'may' : 'may not'}`, () => {
      assert.equal(mayPublish(device, topic), dev);
      assert.equal(mayPublish(user, topic), usr);
      const t = parseDeviceTopic(topic);
      if (t) {
        assert.equal(publishAllowed(device, t), dev);
        assert.equal(publishAllowed(user, t), usr);
      }
    });
  }
});

describe('maySubscribe', () => {
  // [filter, device pi-1 may, user may]
  const rows: Array<[string, boolean, boolean]> = [
    ['devices/#', false, true],
    ['devices/+/status', false, true],
    ['devices/pi-1/#', false, true],
    ['devices/pi-2/cmd/res/+', false, true],
    ['devices', false, true], // devices/# matches it too
    ['devices//#', false, true], // the empty level stays inside devices/#
    ['devices/pi-1/cmd/req', true, true],
    ['devices/pi-1/gpio/+/set', true, true],
    ['devices/pi-1/gpio/17/set', false, true], // exactly the filters a device needs, no narrower ones (issue 7, F1)
    ['devices/pi-2/cmd/req', false, true], // another device's requests
    ['devices/pi-2/gpio/+/set', false, true],
    ['devices/+/cmd/req', false, true],
    ['devices/pi-1/cmd/#', false, true],
    ['devices/pi-1/cmd/+', false, true],
    ['devices/pi-1/cmd/req/#', false, true],
    ['devices/pi-1/gpio/#', false, true],
    ['devices/pi-1/status', false, true],
    ['devices/pi-1/cmd/res/+', false, true],
    ['#', false, false],
    ['+/#', false, false],
    ['+', false, false],
    ['+/+/status', false, false],
    ['$SYS/#', false, false],
    ['$SYS/+/new/clients', false, false],
    ['$share/g/#', false, false],
    ['$share/g/devices/#', false, false],
    ['$pifleet/void', false, false],
    ['u/2/#', false, false], // the raw mountpoint of another user
    ['u/+/devices/#', false, false],
    ['', false, false],
    ['devices/#/x', false, false], // invalid filters
    ['devices/pi-1/cmd/req#', false, false],
  ];
  for (const [filter, dev, usr] of rows) {
    it(`${JSON.stringify(filter)}: device ${dev ? 'may' : 'may not'}, user ${usr ? 'may' : 'may not'}`, () => {
      assert.equal(maySubscribe(device, filter), dev);
      assert.equal(maySubscribe(user, filter), usr);
    });
  }
});
