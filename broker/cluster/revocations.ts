// Revocations across hub nodes: each node still watches hub.db for revocations (its own, another
// node's, the CLI's: store/sqlite-store.ts polls every 200 ms), and says so on Redis pub/sub the moment
// its feed fires; every other node then looks at once. The message only says "look": what was revoked
// is read from hub.db, which every node shares. docs/ARCHITECTURE.md, "Several hub nodes".
import type { Logger } from '../../shared/log.js';
import type { RevocationFeed } from '../store/store.js';

/** Routed like any message between nodes, on a `$` topic no MQTT client may subscribe to. */
export const REVOCATIONS_TOPIC = '$SYS/pifleet/revocations';

/** What the feed needs of the shared emitter (mqemitter-redis). */
export interface Emitter {
  on(topic: string, listener: (packet: { topic: string; payload: unknown }, done: () => void) => void, ready?: () => void): unknown;
  removeListener(topic: string, listener: (packet: { topic: string; payload: unknown }, done: () => void) => void): unknown;
  emit(packet: { topic: string; payload: Buffer }, done?: (err?: Error) => void): void;
  closed?: boolean;
}

export class ClusterRevocationFeed implements RevocationFeed {
  private listener: ((packet: { topic: string; payload: unknown }, done: () => void) => void) | null = null;

  constructor(private readonly local: RevocationFeed, private readonly emitter: Emitter, private readonly node: string, private readonly log: Logger) {}

  start(onChange: () => void): void {
    this.listener = (packet, done) => {
      if (String(packet.payload) !== this.node) onChange();
      done();
    };
    this.emitter.on(REVOCATIONS_TOPIC, this.listener);
    this.local.start(() => {
      onChange();
      this.emitter.emit({ topic: REVOCATIONS_TOPIC, payload: Buffer.from(this.node) }, (err) => {
        // The other nodes still see it in hub.db within their next poll.
        if (err) this.log.warn('cannot tell the other hub nodes of a revocation', { error: err.message });
      });
    });
  }

  stop(): void {
    this.local.stop();
    if (this.listener && !this.emitter.closed) this.emitter.removeListener(REVOCATIONS_TOPIC, this.listener);
    this.listener = null;
  }
}
