// The load generator's MQTT clients: mqtt.js over mTLS WebSocket or mqtts, the same for every contender.
//
// Over WebSocket, stock mqtt.js sends each PUBLISH as ~5 frames (mqtt-packet writes ~5 chunks and
// ws's createWebSocketStream has no _writev), which would measure the client, not the broker. So the
// generator uses the hub's coalescing stream (one frame per corked write batch) for all contenders.
// Nagle is off on both transports: ws does it for WebSocket sockets, and the mqtts builder here does
// it because mqtt.js's TLS builder does not.
import tls from 'node:tls';
import { MqttClient, type IClientOptions } from 'mqtt';
import WebSocket from 'ws';
import { coalescingWebSocketStream } from '../shared/ws-stream.js';
import type { Transport } from './options.js';

export interface Credential { key: string; cert: string }

/** Where a contender listens, and the CA its server certificate chains to. */
export interface Endpoints {
  wssUrl: string;
  mqttsPort: number;
  host: string;
  ca: string;
  servername: string;
  /** A second node of the same hub (two nodes on Redis): half of the clients go there. */
  alt?: { wssUrl: string; mqttsPort: number };
}

/** The `i`th client's node: every other client on the second node, when there is one. */
export function nodeFor(ep: Endpoints, i: number): Endpoints {
  return ep.alt && i % 2 === 1 ? { ...ep, ...ep.alt } : ep;
}

export const GENERATOR_NOTE =
  'generator: mqtt.js 5 clients, WebSocket clients on a coalescing stream (one frame per write batch) for every contender; TCP_NODELAY on both transports';

export function connectClient(transport: Transport, ep: Endpoints, cred: Credential, clientId: string, timeoutMs = 10_000, clean = true): Promise<MqttClient> {
  const tlsOptions = { key: cred.key, cert: cred.cert, ca: ep.ca, servername: ep.servername, minVersion: 'TLSv1.3' as const };
  const build = transport === 'wss'
    ? () => {
      const stream = coalescingWebSocketStream(new WebSocket(ep.wssUrl, ['mqtt'], { ...tlsOptions, perMessageDeflate: false }));
      // Without its _writev the generator measures itself (~5 frames per PUBLISH), not the broker.
      if (!Object.hasOwn(stream, '_writev')) throw new Error('shared/ws-stream.ts no longer coalesces writes (no _writev): the generator would measure itself');
      return stream;
    }
    : () => {
      const socket = tls.connect({ ...tlsOptions, host: ep.host, port: ep.mqttsPort });
      socket.setNoDelay(true);
      return socket;
    };
  const options: IClientOptions = {
    protocolVersion: 4,
    clientId,
    clean,
    keepalive: 60,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
  };
  return new Promise((resolve, reject) => {
    const client = new MqttClient(build, options);
    // mqtt.js listens to its own 'connect' and 'close' events: remove only ours.
    const onError = (err: Error) => fail(err.message);
    const onClose = () => fail('closed before CONNACK');
    const fail = (why: string) => {
      clearTimeout(timer);
      client.removeListener('connect', onConnect);
      client.end(true);
      reject(new Error(`${transport} ${clientId}: ${why}`));
    };
    const onConnect = () => {
      clearTimeout(timer);
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      client.on('error', () => {}); // a late error surfaces as a stalled count, not a crash
      resolve(client);
    };
    const timer = setTimeout(() => fail(`no CONNACK within ${timeoutMs} ms`), timeoutMs);
    client.once('connect', onConnect);
    client.once('error', onError);
    client.once('close', onClose);
  });
}

/** Ends clients without waiting for the broker (the measured part is over). */
export function closeAll(clients: Iterable<MqttClient>): Promise<void> {
  const all = [...clients].map((c) => new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 2000);
    c.end(true, {}, () => { clearTimeout(t); resolve(); });
  }));
  return Promise.all(all).then(() => undefined);
}
