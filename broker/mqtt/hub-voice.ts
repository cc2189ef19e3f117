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

  /** The retained `{online:false}` of a device whose session the hub ended. */
  offline(userId: string, serial: string): Status {
    const status: Status = { v: 1, online: false, ts: Date.now() };
    this.publish(userId, topics.status(serial), status, true);
    return status;
  }

  private publish(userId: string, topic: string, payload: unknown, retain: boolean): void {
    this.aedes()?.publish({
      cmd: 'publish', topic: mountOf(userId) + topic, payload: Buffer.from(JSON.stringify(payload)), qos: 1, retain, dup: false,
    } as PublishPacket, () => {});
  }
}
