// Topic rules, table-driven: every row an input and the exact outcome (shared/topics.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type DeviceTopic, filterWithin, isValidFilter, isValidTopicName, parseDeviceTopic, topicMatches, topics,
} from '../../../shared/topics.js';

describe('parseDeviceTopic', () => {
  const rows: Array<[string, DeviceTopic | null]> = [
    ['devices/pi-1/status', { kind: 'status', serial: 'pi-1' }],
    ['devices/pi-1/stats', { kind: 'stats', serial: 'pi-1' }],
    ['devices/pi-1/manifest', { kind: 'manifest', serial: 'pi-1' }],
    ['devices/pi-1/doctor', { kind: 'doctor', serial: 'pi-1' }],
    ['devices/pi-1/cmd/req', { kind: 'cmd-req', serial: 'pi-1' }],
    ['devices/pi-1/cmd/res/abc_123-X', { kind: 'cmd-res', serial: 'pi-1', id: 'abc_123-X' }],
    ['devices/pi-1/gpio/0/set', { kind: 'gpio-set', serial: 'pi-1', bcm: 0 }],
    ['devices/pi-1/gpio/17/state', { kind: 'gpio-state', serial: 'pi-1', bcm: 17 }],
    ['devices/pi-1/gpio/59/set', { kind: 'gpio-set', serial: 'pi-1', bcm: 59 }],
    [`devices/${'a'.repeat(64)}/status`, { kind: 'status', serial: 'a'.repeat(64) }],
    // not ours
    ['', null],
    ['devices', null],
    ['devices/pi-1', null],
    ['devices/pi-1/', null],
    ['devices//status', null], // the empty level is no serial
    ['devices/pi-1/status/', null], // a trailing empty level
    ['devices/pi-1/status/x', null],
    ['/devices/pi-1/status', null],
    ['Devices/pi-1/status', null],
    ['devices/+/status', null], // a filter, not a name
    ['devices/#', null],
    ['devices/pi.1/status', null], // '.' is not in a serial
    ['devices/pi 1/status', null],
    [`devices/${'a'.repeat(65)}/status`, null],
    ['devices/pi-1/reboot', null],
    ['devices/pi-1/cmd', null],
    ['devices/pi-1/cmd/res', null],
    ['devices/pi-1/cmd/res/', null],
    ['devices/pi-1/cmd/res/a/b', null],
    ['devices/pi-1/cmd/res/a.b', null],
    ['devices/pi-1/cmd/req/x', null],
    ['devices/pi-1/gpio/60/set', null],
    ['devices/pi-1/gpio/04/set', null], // one spelling per pin
    ['devices/pi-1/gpio/-1/set', null],
    ['devices/pi-1/gpio/+/set', null],
    ['devices/pi-1/gpio/17/get', null],
    ['devices/pi-1/gpio/17', null],
    ['u/1/devices/pi-1/status', null], // an internal (mounted) topic is not an inner one
    ['$SYS/devices/pi-1/status', null],
  ];
  for (const [topic, want] of rows) {
    it(`${JSON.stringify(topic)} → ${want ? want.kind : 'null'}`, () => assert.deepEqual(parseDeviceTopic(topic), want));
  }

  it('parses every topic the builders make, back to what built it', () => {
    assert.deepEqual(parseDeviceTopic(topics.status('s')), { kind: 'status', serial: 's' });
    assert.deepEqual(parseDeviceTopic(topics.cmdRes('s', 'r1')), { kind: 'cmd-res', serial: 's', id: 'r1' });
    assert.deepEqual(parseDeviceTopic(topics.gpioSet('s', 4)), { kind: 'gpio-set', serial: 's', bcm: 4 });
    assert.deepEqual(parseDeviceTopic(topics.gpioState('s', '4')), { kind: 'gpio-state', serial: 's', bcm: 4 });
  });
});

describe('isValidFilter [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1]', () => {
  const rows: Array<[string, boolean]> = [
    ['#', true],
    ['+', true],
    ['+/#', true],
    ['devices/#', true],
    ['devices/+/status', true],
    ['devices//status', true], // empty levels are legal
    ['/', true],
    ['$SYS/#', true], // valid, the ACL refuses it
    ['$share/g/#', true],
    ['', false], // [MQTT-4.7.3-1]
    ['#/a', false], // '#' only last
    ['a/#/b', false],
    ['a#', false], // a wildcard occupies a whole level
    ['a/b#', false],
    ['a+', false],
    ['a/+b/c', false],
    ['++', false],
    ['a/\u0000', false],
    ['x'.repeat(65535), true],
    ['x'.repeat(65536), false],
  ];
  for (const [filter, want] of rows) {
    it(`${JSON.stringify(filter.length > 40 ? `${filter.slice(0, 10)}…(${filter.length})` : filter)} → ${want}`, () => assert.equal(isValidFilter(filter), want));
  }
});

describe('isValidTopicName [MQTT-3.3.2-2] [MQTT-4.7.3-1]', () => {
  const rows: Array<[string, boolean]> = [
    ['devices/pi-1/status', true],
    ['/', true],
    ['a//b', true],
    ['$SYS/x', true],
    ['', false],
    ['a/+', false],
    ['a/#', false],
    ['+', false],
    ['a/b+c', false],
    ['a\u0000b', false],
    ['x'.repeat(65536), false],
  ];
  for (const [topic, want] of rows) {
    it(`${JSON.stringify(topic.length > 40 ? `x…(${topic.length})` : topic)} → ${want}`, () => assert.equal(isValidTopicName(topic), want));
  }
});

describe('topicMatches (MQTT 3.1.1 §4.7)', () => {
  const rows: Array<[string, string, boolean]> = [
    ['#', 'a', true],
    ['#', 'a/b/c', true],
    ['#', '/a', true],
    ['a/#', 'a', true], // '#' matches the parent level [MQTT-4.7.1-2]
    ['a/#', 'a/b/c', true],
    ['a/#', 'ab', false],
    ['a/#', 'b/a', false],
    ['+', 'a', true],
    ['+', 'a/b', false],
    ['+', '/a', false],
    ['+/+', '/a', true], // an empty level is a level
    ['a/+', 'a', false],
    ['a/+', 'a/', true],
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/d', false],
    ['a/b', 'a/b', true],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
    ['a/b/#', 'a', false],
    ['devices/+/status', 'devices/pi-1/status', true],
    ['devices/+/status', 'devices/pi-1/stats', false],
    // [MQTT-4.7.2-1] a leading wildcard never matches a '$' topic
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['+/#', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['$share/g/#', 'devices/a', false],
  ];
  for (const [filter, topic, want] of rows) {
    it(`${filter} ~ ${JSON.stringify(topic)} → ${want}`, () => assert.equal(topicMatches(filter, topic), want));
  }
});

describe('filterWithin (a subscription inside what the ACL allows)', () => {
  const rows: Array<[string, string, boolean]> = [
    // the user's grant: devices/#
    ['devices/#', 'devices/#', true],
    ['devices', 'devices/#', true], // devices/# also matches the parent
    ['devices/+', 'devices/#', true],
    ['devices/+/status', 'devices/#', true],
    ['devices/pi-1/#', 'devices/#', true],
    ['devices//#', 'devices/#', true], // the empty level stays inside
    ['devices/', 'devices/#', true],
    ['#', 'devices/#', false],
    ['+/#', 'devices/#', false],
    ['+', 'devices/#', false],
    ['+/status', 'devices/#', false],
    ['device/#', 'devices/#', false],
    ['devicesx/#', 'devices/#', false],
    ['u/1/#', 'devices/#', false],
    ['$SYS/#', 'devices/#', false],
    ['$share/g/#', 'devices/#', false],
    ['$share/g/devices/#', 'devices/#', false],
    // a device's grant: its cmd/req and gpio/+/set
    ['devices/pi-1/cmd/req', 'devices/pi-1/cmd/req', true],
    ['devices/pi-2/cmd/req', 'devices/pi-1/cmd/req', false],
    ['devices/+/cmd/req', 'devices/pi-1/cmd/req', false],
    ['devices/pi-1/cmd/+', 'devices/pi-1/cmd/req', false],
    ['devices/pi-1/cmd/#', 'devices/pi-1/cmd/req', false],
    ['devices/pi-1/cmd/req/#', 'devices/pi-1/cmd/req', false], // '#' also matches children
    ['devices/pi-1/cmd', 'devices/pi-1/cmd/req', false],
    ['devices/pi-1/gpio/+/set', 'devices/pi-1/gpio/+/set', true],
    ['devices/pi-1/gpio/17/set', 'devices/pi-1/gpio/+/set', true],
    ['devices/pi-1/gpio/+/+', 'devices/pi-1/gpio/+/set', false],
    ['devices/pi-1/gpio/#', 'devices/pi-1/gpio/+/set', false],
    ['devices/pi-1/gpio/+/set/#', 'devices/pi-1/gpio/+/set', false],
    ['devices/pi-1/gpio/17/state', 'devices/pi-1/gpio/+/set', false],
  ];
  for (const [filter, pattern, want] of rows) {
    it(`${filter} ⊆ ${pattern} → ${want}`, () => assert.equal(filterWithin(filter, pattern), want));
  }
});
