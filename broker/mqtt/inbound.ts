// What the hub does with every packet a client sends before aedes sees it, on aedes's own parser
// (docs/INTERNALS.md): mount its topics, keep the subscription bookkeeping, refuse a SUBSCRIBE with
// too many filters, and cut a connection whose packet header declares more than it may send. And on
// the way out: a client that does not read never holds up anyone else's messages.
import type { Duplex } from 'node:stream';
import {
  MAX_FILTERS_ANSWERED, MAX_FILTERS_PER_SUBSCRIBE, MAX_PACKET_BYTES, MAX_PACKET_BYTES_BEFORE_CONNACK, MAX_WRITE_BACKLOG_BYTES,
} from '../../shared/limits.js';
import type { Logger } from '../../shared/log.js';
import type { ConnState, HubClient } from './client-state.js';
import { mountInbound } from './mountpoint.js';

export function watchInbound(
  client: HubClient, state: ConnState, stream: Duplex, log: Logger,
  oversized: (count: number, closing: boolean) => void,
): void {
  if (!client._parser) throw new Error('aedes internals changed: client._parser is missing (pinned aedes version?)');
  const parser = client._parser;
  parser.prependListener('packet', (packet) => {
    if (packet.cmd === 'connect') {
      state.requestedClientId = (packet as { clientId?: string }).clientId ?? '';
      state.connecting?.();
      state.connecting = null;
    }
    if (state.mount) mountInbound(state.mount, packet);
    if (packet.cmd === 'subscribe') subscribing(packet.subscriptions ?? []);
    else if (packet.cmd === 'unsubscribe') for (const t of packet.unsubscriptions ?? []) state.filters.delete(t);
  });
  const subscribing = (subs: Array<{ topic: string; qos?: number }>) => {
    // Granted at most QoS 1: nothing of ours needs 2, and aedes cannot downgrade a delivery to the QoS
    // granted through mountpoints (it looks the subscription up by the delivered, stripped topic), so
    // authorizeForward caps deliveries at 1 too.
    for (const s of subs) if ((s.qos ?? 0) > 1) s.qos = 1;
    if (subs.length > MAX_FILTERS_PER_SUBSCRIBE) {
      // Each is refused with 0x80 (authorizeSubscribe) — or, far beyond, the connection is closed:
      // answering each costs the event loop ~6 µs a filter, and 1 MiB holds 40,000.
      const closing = subs.length > MAX_FILTERS_ANSWERED;
      oversized(subs.length, closing);
      if (closing) {
        subs.length = 0; // aedes, whose listener runs next, has nothing left to do
        stream.destroy();
      } else {
        const refused = state.oversized ??= new WeakSet();
        for (const s of subs) refused.add(s);
      }
    }
  };
  // aedes's deliveries wait for a full client's 'drain', and the router (mqemitter, 100 messages in
  // flight) waits for every delivery: one client that stopped reading stalled all routing until
  // aedes's drainTimeout (60 s). A full stream now releases the delivery at once; what the client
  // does not read stays buffered for it, bounded (shared/limits.ts; QoS 0 is dropped in
  // authorizeForward): beyond MAX_WRITE_BACKLOG_BYTES it is closed.
  client.waitForDrain = (callback) => {
    if (stream.writableLength > MAX_WRITE_BACKLOG_BYTES && !stream.destroyed) {
      log.warn('client does not read what it is sent, connection closed', { remote: state.remote, client: client.id, backlog: stream.writableLength });
      stream.destroy();
    }
    setImmediate(callback);
  };
  // mqtt-packet buffers a packet whole, up to the 256 MiB its header may declare, before anyone sees
  // it: cut a connection as soon as a header declares more than it may send, before it is buffered.
  const parse = parser.parse.bind(parser);
  parser.parse = (buf: Buffer) => {
    const left = parse(buf);
    const limit = client.connackSent ? MAX_PACKET_BYTES : MAX_PACKET_BYTES_BEFORE_CONNACK;
    const declared = parser.packet?.length ?? -1;
    if (declared > limit || left > limit + 5) {
      log.warn('packet too large, connection closed', { remote: state.remote, client: state.requestedClientId ?? undefined, bytes: Math.max(declared, left), limit });
      stream.destroy();
    }
    return left;
  };
}
