// What the hub keeps on each aedes client, and the parts of aedes's client it relies on (aedes is
// pinned exactly for these: docs/INTERNALS.md).
import type { Client } from 'aedes';
import type { DeviceTopic } from '../../shared/topics.js';
import type { DeviceEntry } from '../device-tracker.js';
import type { Identity } from './identity.js';
import type { InboundPacket } from './mountpoint.js';
import type { RecentDeliveries } from './deliveries.js';
import type { PublishContext } from './publish-rules.js';

export const STATE = Symbol('pifleet');

export interface ConnState {
  identity: Identity | null;
  /** A device's own entry in the tracker, found once at CONNECT. */
  device: DeviceEntry | null;
  /** The last topic this connection was allowed to publish on, parsed: devices repeat theirs. */
  lastTopic: string | null;
  lastParsed: DeviceTopic | null;
  refusal: string | null;
  mount: string | null;
  requestedClientId: string | null;
  remote: string;
  /** The TLS handshake resumed a session (a ticket), so no certificate was signed or verified. */
  tlsResumed: boolean;
  /** The filters this session holds or was just granted (internal topics), for the per-session limit. */
  filters: Set<string>;
  /** Subscriptions of a SUBSCRIBE with too many filters: each is refused (made at the first such SUBSCRIBE). */
  oversized: WeakSet<object> | null;
  /** What the publish rules use, made at the first publish. */
  ctx: PublishContext | null;
  /** QoS 1 messages given to this connection lately (deliveries.ts); made at the first. */
  delivered: RecentDeliveries | null;
  /** With several hub nodes: this connection's name, once it holds its device's session (holders.ts). */
  holding?: string;
  /** Called once when the client's CONNECT arrives (its accept gate's pass: broker/accept-gate.ts). */
  connecting?: (() => void) | null;
}

export type HubClient = Client & {
  [STATE]?: ConnState;
  /** The will in force once connected, and the one CONNECT carried (aedes keeps both). */
  will?: unknown;
  _will?: { topic: string; payload: Buffer } | null;
  _parser?: {
    prependListener(ev: 'packet', fn: (p: InboundPacket) => void): void;
    parse(buf: Buffer): number;
    /** The packet being parsed: `length` is its remaining length once the fixed header is in, else -1. */
    packet?: { length: number };
  };
  connackSent?: boolean;
  /** aedes's per-broker high-water mark of delivered messages (turned off: deliveries.ts). */
  duplicates?: Record<string, number>;
  /** aedes calls it when a write fills the stream; its callback holds up the delivery that wrote. */
  waitForDrain?: (callback: (err?: Error | null) => void) => void;
  id: string;
};
