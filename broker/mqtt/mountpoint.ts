// Per-user mountpoints (as in VerneMQ): every topic a client uses is prefixed with `u/<userId>/` on the
// way in and stripped on the way out. Pure functions over plain packet objects.
//
// Inside the broker every topic is internal (mounted). The ACL only ever grants topics under
// `devices/`, so an internal topic always starts with `u/` and a delivered one with `devices/`: that
// is what makes stripping idempotent for packets aedes hands back already stripped (QoS 1 resends).

export type Principal =
  | { kind: 'device'; userId: string; serial: string }
  | { kind: 'user'; userId: string };

export const mountOf = (userId: string): string => `u/${userId}/`;

/** The inner topic of an internal one, or null when it lies outside this mountpoint. */
export function unmount(mount: string, topic: string): string | null {
  return topic.startsWith(mount) ? topic.slice(mount.length) : null;
}

/** The user and inner topic of an internal topic (`u/<userId>/<inner>`), or null. */
export function splitInternal(topic: string): { userId: string; inner: string } | null {
  const m = /^u\/([0-9]+)\/(.*)$/s.exec(topic);
  return m ? { userId: m[1]!, inner: m[2]! } : null;
}

/** The packets that carry topics from a client, in the shapes mqtt-packet parses. */
export interface InboundPacket {
  cmd: string;
  topic?: string;
  subscriptions?: Array<{ topic: string; qos?: number }>;
  unsubscriptions?: string[];
  will?: { topic: string } | null;
}

/**
 * Mounts every topic a client sends, in place: PUBLISH, SUBSCRIBE, UNSUBSCRIBE (aedes has no hook for
 * it) and the will in CONNECT. Runs before aedes sees the packet, so its hooks, its subscription store
 * and its will store only ever hold internal topics.
 */
export function mountInbound(mount: string, packet: InboundPacket): void {
  switch (packet.cmd) {
    case 'publish':
      if (typeof packet.topic === 'string') packet.topic = mount + packet.topic;
      break;
    case 'subscribe':
      for (const s of packet.subscriptions ?? []) s.topic = mount + s.topic;
      break;
    case 'unsubscribe':
      if (packet.unsubscriptions) packet.unsubscriptions = packet.unsubscriptions.map((t) => mount + t);
      break;
    case 'connect':
      if (packet.will && typeof packet.will.topic === 'string') packet.will.topic = mount + packet.will.topic;
      break;
    default:
      break;
  }
}

/**
 * Outbound: the topic a client should see, or null if the packet must not reach it. Accepts a topic
 * already stripped (QoS 1 resends and the offline queue may hand back packets forwarded before).
 */
export function unmountOutbound(mount: string, topic: string): string | null {
  if (topic.startsWith(mount)) return topic.slice(mount.length);
  if (topic.startsWith('devices/')) return topic;
  return null;
}

/**
 * Client ids are one global namespace in aedes: a CONNECT with an existing id takes over that
 * session. Namespacing the id by identity keeps one user from ever taking over another's session.
 */
export function internalClientId(p: Principal, clientId: string): string {
  // All of one user's clients that sent an empty id would share `u/<id>/` and take each other over.
  if (p.kind === 'user' && clientId === '') throw new Error('an empty client id must be replaced by a unique one first [MQTT-3.1.3-6]');
  return p.kind === 'device' ? `d/${p.userId}/${p.serial}` : `u/${p.userId}/${clientId}`;
}

/** The principal behind an internal client id (for wills replayed with no client). */
export function principalFromClientId(id: string | undefined): Principal | null {
  if (!id) return null;
  const m = /^([du])\/([0-9]+)\/(.+)$/.exec(id);
  if (!m) return null;
  return m[1] === 'd' ? { kind: 'device', userId: m[2]!, serial: m[3]! } : { kind: 'user', userId: m[2]! };
}
