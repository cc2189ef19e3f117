// The ACL inside a mountpoint, exactly as docs/ARCHITECTURE.md's table. Pure.
//
// | who              | may publish                                                          | may subscribe                          |
// | device <serial>  | devices/<serial>/{status,stats,manifest,doctor}, …/gpio/+/state, …/cmd/res/+ | devices/<serial>/cmd/req, …/gpio/+/set |
// | user             | devices/+/cmd/req, devices/+/gpio/+/set                              | devices/#                              |
//
// A user can never publish what only a device may (status, stats, manifest, gpio state, results).
import { type DeviceTopic, filterWithin, isValidFilter, parseDeviceTopic, topics } from '../../shared/topics.js';
import type { Principal } from './mountpoint.js';

const DEVICE_PUBLISHES = new Set<DeviceTopic['kind']>(['status', 'stats', 'manifest', 'doctor', 'gpio-state', 'cmd-res']);
const USER_PUBLISHES = new Set<DeviceTopic['kind']>(['cmd-req', 'gpio-set']);
const USER_SUBSCRIBE = [topics.allDevices()];

/** For a topic already parsed (the broker parses each PUBLISH once). */
export function publishAllowed(p: Principal, t: DeviceTopic): boolean {
  return p.kind === 'device'
    ? t.serial === p.serial && DEVICE_PUBLISHES.has(t.kind)
    : USER_PUBLISHES.has(t.kind);
}

export function mayPublish(p: Principal, topic: string): boolean {
  const t = parseDeviceTopic(topic);
  return t !== null && publishAllowed(p, t);
}

/**
 * A device gets exactly the two filters it needs, not every filter within them: `+` in
 * `…/gpio/+/set` would otherwise grant it any number of distinct filters (`…/gpio/1/set`, …).
 */
export function maySubscribe(p: Principal, filter: string): boolean {
  if (!isValidFilter(filter) || filter.startsWith('$')) return false;
  if (p.kind === 'device') return filter === topics.cmdReq(p.serial) || filter === topics.gpioSetAll(p.serial);
  return USER_SUBSCRIBE.some((pattern) => filterWithin(filter, pattern));
}
