// Retained messages of Pis that are gone. A removed Pi (or every Pi of a removed user) leaves its
// status, manifest, doctor report and GPIO states retained in the broker's store, and mqtt.db would
// grow with every Pi enrolled and removed. They are deleted: the removed Pi's own at once (the API's
// DELETE), and at start and every hour those of any Pi the store no longer lists as enrolled (a
// removal through the CLI, which the running hub does not see as such). Deleted from the store
// without a message: subscribers are not sent anything for a Pi their user removed.
import { parseDeviceTopic } from '../../shared/topics.js';
import { splitInternal } from './mountpoint.js';
import type { AsyncPersistence, StoredPacket } from './persistence.js';

/** How often every Pi's retained messages are checked against the enrolled Pis. */
export const RETAINED_SWEEP_MS = 60 * 60 * 1000;

/** Every device topic of every user, as stored (internal topics). */
export const ALL_DEVICE_TOPICS = 'u/+/devices/#';

/** One removed Pi's topics. */
export const deviceTopics = (userId: string, serial: string) => `u/${userId}/devices/${serial}/#`;

/**
 * Deletes the retained messages under `pattern` whose Pi is not enrolled; returns how many. The
 * deletion is a retained packet with an empty payload, as MQTT defines it, given to the store only.
 */
export async function pruneRetained(
  persistence: Pick<AsyncPersistence, 'createRetainedStream' | 'storeRetained'>,
  enrolled: (userId: string, serial: string) => boolean,
  pattern = ALL_DEVICE_TOPICS,
): Promise<number> {
  const gone: string[] = [];
  for await (const p of persistence.createRetainedStream(pattern)) {
    const { topic } = p as StoredPacket;
    const where = splitInternal(topic);
    const t = where ? parseDeviceTopic(where.inner) : null;
    if (where && t && !enrolled(where.userId, t.serial)) gone.push(topic);
  }
  // Collected first: a store's stream may not like its rows deleted under it.
  for (const topic of gone) {
    await persistence.storeRetained({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true });
  }
  return gone.length;
}
