// The only module that builds or parses topic strings (see docs/ARCHITECTURE.md, "Topics and payloads").
// Everything here is pure; the broker's mountpoint layer and ACL, the agent and the tests use it.

/** A serial number: a topic level, a certificate CN and an MQTT client id at once. */
export const SERIAL_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** A request id: it becomes the last level of `…/cmd/res/<id>`, so the same alphabet. */
export const REQUEST_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** GPIO pins are named by BCM number. */
export const BCM_RE = /^(?:[0-9]|[1-5][0-9])$/;

export const DEVICES = 'devices';

export const topics = {
  status: (serial: string) => `${DEVICES}/${serial}/status`,
  stats: (serial: string) => `${DEVICES}/${serial}/stats`,
  manifest: (serial: string) => `${DEVICES}/${serial}/manifest`,
  doctor: (serial: string) => `${DEVICES}/${serial}/doctor`,
  cmdReq: (serial: string) => `${DEVICES}/${serial}/cmd/req`,
  cmdRes: (serial: string, id: string) => `${DEVICES}/${serial}/cmd/res/${id}`,
  cmdResAll: (serial: string) => `${DEVICES}/${serial}/cmd/res/+`,
  gpioSet: (serial: string, bcm: number | string) => `${DEVICES}/${serial}/gpio/${bcm}/set`,
  gpioSetAll: (serial: string) => `${DEVICES}/${serial}/gpio/+/set`,
  gpioState: (serial: string, bcm: number | string) => `${DEVICES}/${serial}/gpio/${bcm}/state`,
  allDevices: () => `${DEVICES}/#`,
} as const;

export type DeviceTopic =
  | { kind: 'status' | 'stats' | 'manifest' | 'doctor' | 'cmd-req'; serial: string }
  | { kind: 'cmd-res'; serial: string; id: string }
  | { kind: 'gpio-set' | 'gpio-state'; serial: string; bcm: number };

/** Parses a concrete topic name (no wildcards) inside a mountpoint; null if it is not one of ours. */
export function parseDeviceTopic(topic: string): DeviceTopic | null {
  const l = topic.split('/');
  if (l[0] !== DEVICES || l.length < 3) return null;
  const serial = l[1]!;
  if (!SERIAL_RE.test(serial)) return null;
  if (l.length === 3) {
    switch (l[2]) {
      case 'status': case 'stats': case 'manifest': case 'doctor':
        return { kind: l[2], serial };
      default: return null;
    }
  }
  if (l.length === 4 && l[2] === 'cmd' && l[3] === 'req') return { kind: 'cmd-req', serial };
  if (l.length === 5 && l[2] === 'cmd' && l[3] === 'res' && REQUEST_ID_RE.test(l[4]!)) {
    return { kind: 'cmd-res', serial, id: l[4]! };
  }
  if (l.length === 5 && l[2] === 'gpio' && BCM_RE.test(l[3]!) && (l[4] === 'set' || l[4] === 'state')) {
    return { kind: l[4] === 'set' ? 'gpio-set' : 'gpio-state', serial, bcm: Number(l[3]) };
  }
  return null;
}

/** [MQTT-4.7.3-1] [MQTT-4.7.1-2] [MQTT-4.7.1-3]: a valid topic filter. */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.length > 65535 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const lv = levels[i]!;
    if (lv === '#') { if (i !== levels.length - 1) return false; continue; }
    if (lv === '+') continue;
    if (lv.includes('#') || lv.includes('+')) return false;
  }
  return true;
}

/** [MQTT-3.3.2-2]: a topic name carries no wildcard. */
export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && topic.length <= 65535 && !/[+#\u0000]/.test(topic);
}

/** Does `filter` match the concrete `topic`? (MQTT 3.1.1 §4.7; `$` topics are never matched by a leading wildcard.) */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const lv = f[i]!;
    if (lv === '#') return true; // also matches the parent level [MQTT-4.7.1-2]
    if (i >= t.length) return false;
    if (lv !== '+' && lv !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Is every topic that `filter` matches also matched by `pattern`? Used to grant a
 * subscription only when it stays inside what the ACL allows.
 */
export function filterWithin(filter: string, pattern: string): boolean {
  const f = filter.split('/');
  const p = pattern.split('/');
  for (let i = 0; i < f.length; i++) {
    const pl = p[i];
    if (pl === '#') return true;
    if (pl === undefined) return false;
    const fl = f[i]!;
    if (fl === '#') return false; // `#` also matches the parent, which a longer pattern never does
    if (pl === '+') continue;
    if (fl === '+' || fl !== pl) return false;
  }
  // `a/#` also matches `a`, so a filter one level short of a trailing `#` is within it.
  return f.length === p.length || (p.length === f.length + 1 && p[f.length] === '#');
}
