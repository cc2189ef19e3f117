// What the hub publishes in its own name, inside a user's mountpoint: an error result answering a
// request it refused or could not deliver, and a device's offline status when it ends its session.
import type { Aedes, PublishPacket } from 'aedes';
import { errorResult } from '../../shared/results.js';
import type { ErrorCode, Status } from '../../shared/schemas.js';
import { topics } from '../../shared/topics.js';
import { mountOf } from './mountpoint.js';

export class HubVoice {
  constructor(private readonly aedes: () => Aedes | null) {}

  /** Answers a request on its result topic, so the requester is never left waiting. */
  answer(userId: string, serial: string, id: string, code: ErrorCode, message: string): void {
    this.publish(userId, topics.cmdRes(serial, id), errorResult(id, code, message), false);
  }

  /** The retained `{online:false}` of a device whose session the hub ended (or that is gone since a restart). */
  offline(userId: string, serial: string): Status {
    return this.offlineStored(userId, serial).status;
  }

  /** The same, with when it is stored and delivered. */
  offlineStored(userId: string, serial: string): { status: Status; done: Promise<void> } {
    const status: Status = { v: 1, online: false, ts: Date.now() };
    return { status, done: this.publish(userId, topics.status(serial), status, true) };
  }

  private publish(userId: string, topic: string, payload: unknown, retain: boolean): Promise<void> {
    const aedes = this.aedes();
    if (!aedes) return Promise.resolve();
    return new Promise((resolve) => aedes.publish({
      cmd: 'publish', topic: mountOf(userId) + topic, payload: Buffer.from(JSON.stringify(payload)), qos: 1, retain, dup: false,
    } as PublishPacket, () => resolve()));
  }
}
