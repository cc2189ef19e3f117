// What a hub that is the only broker on its store settles at start, before it listens: the end of the
// connections an earlier run of it held (docs/ARCHITECTURE.md, "Restarts").
//
// - Wills. The store keeps each will with the id of the broker that took it; every run of aedes has a
//   new id. aedes publishes the wills of brokers it has not heard from only every 4 heartbeats (4 min),
//   and a client that reconnects first replaces its old will unpublished (aedes issue #754). A hub
//   restart ended those connections without DISCONNECT, so their wills are due now: published through
//   the same authorizePublish as aedes's own replay (client null), then deleted.
// - Statuses. A device that was online and left no will (a third-party client) would stay "online" in
//   its retained status for good; nobody is connected yet, so each status still saying online is
//   replaced by the hub's `{online:false}`. Devices that come back say online again themselves.
//
// Not for several hub nodes on one store (there the others' clients are still connected): aedes's
// heartbeat mechanism handles dead nodes.
import type { Aedes, PublishPacket } from 'aedes';
import { parseJson } from '../../shared/json.js';
import type { Logger } from '../../shared/log.js';
import { StatusSchema } from '../../shared/schemas.js';
import { parseDeviceTopic } from '../../shared/topics.js';
import type { DeviceTracker } from '../device-tracker.js';
import type { HubVoice } from './hub-voice.js';
import { splitInternal } from './mountpoint.js';
import type { AsyncPersistence, StoredPacket } from './persistence.js';

/** Every device's retained status, as stored (internal topics). */
const ALL_STATUSES = 'u/+/devices/+/status';

/**
 * Wills settled at once. The store commits once per turn of the event loop, so one will at a time cost
 * a few turns each (10,000 took 14 s before the hub could listen); a batch shares its commits.
 */
const WILLS_AT_ONCE = 256;

export async function settleEarlierRun(aedes: Aedes, persistence: AsyncPersistence, voice: HubVoice, tracker: DeviceTracker, log: Logger): Promise<void> {
  let wills = 0;
  const settle = async (will: StoredPacket & { clientId: string }) => {
    try {
      await new Promise<void>((resolve, reject) => aedes.authorizePublish(null as never, will as unknown as PublishPacket, (err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve) => aedes.publish(will as unknown as PublishPacket, () => resolve()));
      wills++;
    } catch (err) {
      log.warn('a will of an earlier run was refused', { client: will.clientId, error: (err as Error).message });
    }
    await persistence.delWill({ id: will.clientId, brokerId: will.brokerId } as { id: string });
  };
  let batch: Array<Promise<void>> = [];
  for await (const w of persistence.streamWill({ [aedes.id]: Date.now() })) {
    batch.push(settle(w as StoredPacket & { clientId: string }));
    if (batch.length >= WILLS_AT_ONCE) { await Promise.all(batch); batch = []; }
  }
  await Promise.all(batch);
  const marked: Array<Promise<void>> = [];
  for await (const p of persistence.createRetainedStream(ALL_STATUSES)) {
    const packet = p as StoredPacket;
    const where = splitInternal(packet.topic);
    const t = where ? parseDeviceTopic(where.inner) : null;
    const status = StatusSchema.safeParse(parseJson(Buffer.from(packet.payload)));
    if (!where || t?.kind !== 'status' || !status.success || !status.data.online) continue;
    const { status: offline, done } = voice.offlineStored(where.userId, t.serial);
    if (tracker.enrolled(where.userId, t.serial)) tracker.status(tracker.device(where.userId, t.serial), offline);
    marked.push(done);
  }
  await Promise.all(marked);
  if (wills > 0 || marked.length > 0) log.info('settled the connections of the earlier run', { wills, offline: marked.length });
}
