// pi-hub's listeners. One HTTPS port carries /mqtt (MQTT over WebSocket into the broker), /api/v1 and
// later the dashboard; a second port speaks MQTT over TLS for clients without WebSocket. Both use
// TLS 1.3 only, the same client-certificate policy, identity resolution and broker hooks.
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { Logger } from '../shared/log.js';
import { coalescingWebSocketStream } from '../shared/ws-stream.js';
import { AcceptGate, type Pass } from './accept-gate.js';
import type { HubBroker } from './mqtt/broker.js';
import type { ClientAuth } from './config.js';
import { type IdentityResolver, resolveIdentity } from './mqtt/identity.js';

/**
 * Connections the kernel holds for the hub before it accepts them (Linux caps it at
 * net.core.somaxconn: 4096 since 5.4). Node's default, 511, overflows when a fleet comes back at once
 * while the event loop is busy with handshakes: the kernel then drops the Pis' SYNs, and each waits for
 * TCP's retransmission (1 s, then 3 s, 7 s…) before the hub even sees it.
 */
export const LISTEN_BACKLOG = 4096;

export interface TlsMaterial {
  key: string; cert: string; ca: string[];
  /** Session ticket keys kept across restarts (ca/ticket-keys.ts); Node makes its own without. */
  ticketKeys?: Buffer;
}

export interface ListenOptions {
  host: string;
  port: number;
  mqttsPort: number;
  clientAuth: ClientAuth;
  tls: TlsMaterial;
  /** New MQTT connections a second over both listeners (fleet-limits.ts); default unlimited. */
  acceptPerSecond?: number;
}

export type RequestHandler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;

export class HubServer {
  private httpsServer: https.Server | null = null;
  private mqttsServer: tls.Server | null = null;
  private wss: WebSocketServer | null = null;
  private gate: AcceptGate | null = null;

  constructor(
    private readonly broker: HubBroker,
    private readonly resolvers: IdentityResolver[],
    private readonly api: RequestHandler,
    private readonly log: Logger,
  ) {}

  private tlsOptions(o: ListenOptions): tls.TlsOptions {
    return {
      key: o.tls.key,
      cert: o.tls.cert,
      ca: o.tls.ca,
      minVersion: 'TLSv1.3',
      requestCert: o.clientAuth !== 'none',
      rejectUnauthorized: o.clientAuth === 'need',
      // Node's default session id context is a hash of the command line, which a restart on other
      // flags (a fixed --port instead of 0) changes: every ticket from before would be refused.
      ...(o.tls.ticketKeys ? { ticketKeys: o.tls.ticketKeys, sessionIdContext: 'pi-hub' } : {}),
    };
  }

  async listen(o: ListenOptions): Promise<{ port: number; mqttsPort: number }> {
    const rate = o.acceptPerSecond;
    const gate = rate ? new AcceptGate(rate) : null;
    this.gate = gate;
    let deferred = 0;
    let deferredLogged = 0;
    /**
     * A new MQTT connection through the accept gate (accept-gate.ts): `go` now or once its turn comes,
     * with its pass (given back when the socket closes, if not before), or `away` with the seconds to come
     * back in; the turned away are counted in one log line a second.
     */
    const enter = (socket: import('node:stream').Duplex, go: (pass?: Pass) => void, away: (retryAfterS: number) => void): void => {
      if (!gate) return go();
      let leave: (() => void) | null = null;
      let decided = false;
      const decide = () => { decided = true; if (leave) socket.off('close', leave); };
      leave = gate.enter({
        go: (pass) => {
          decide();
          socket.once('close', pass.done);
          go(pass);
        },
        away: (retryAfterS) => {
          decide();
          deferred++;
          const now = Date.now();
          if (now - deferredLogged >= 1000) {
            this.log.warn('MQTT connections beyond the accept rate deferred', { deferred, perSecond: rate, waiting: gate.waiting, retryAfterS });
            deferred = 0;
            deferredLogged = now;
          }
          away(retryAfterS);
        },
      });
      if (!decided) socket.once('close', leave); // gone while it waited: its place goes to the next
    };
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: 1024 * 1024,
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
    });
    this.wss = wss;
    const server = https.createServer(this.tlsOptions(o), this.api);
    this.httpsServer = server;
    server.on('upgrade', (req, socket, head) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/mqtt') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      // A browser brings its session cookie and client certificate along to any page that opens this
      // socket: only the hub's own page may (cross-site WebSocket hijacking). Clients that are not
      // browsers send no Origin.
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `https://${req.headers.host ?? ''}`) {
        this.log.warn('WebSocket from another origin refused', { origin: origin.slice(0, 200), remote: remoteOf(socket as TLSSocket) });
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
        return;
      }
      enter(socket, (pass) => {
        const who = resolveIdentity(this.resolvers, socket as TLSSocket, req);
        wss.handleUpgrade(req, socket, head, (ws) => {
          const stream = coalescingWebSocketStream(ws);
          stream.on('error', ignore); // aedes reports errors on its client
          this.broker.handle(stream, req, who, remoteOf(socket as TLSSocket), pass);
        });
      }, (retryAfterS) => {
        // When to come back: the gate's schedule, so that the deferred return at the rate the hub takes them.
        socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${retryAfterS}\r\nConnection: close\r\n\r\n`);
      });
    });
    server.on('tlsClientError', (err) => this.log.debug('TLS handshake failed', { error: err.message }));
    server.listen({ port: o.port, host: o.host, backlog: LISTEN_BACKLOG });
    await once(server, 'listening');

    const mqtts = tls.createServer(this.tlsOptions(o), (socket) => {
      socket.setNoDelay(true);
      socket.on('error', ignore);
      enter(socket, (pass) => {
        this.broker.handle(socket, null, resolveIdentity(this.resolvers, socket, null), remoteOf(socket), pass);
      }, () => socket.destroy()); // MQTT has no "come back later" before CONNECT
    });
    mqtts.on('tlsClientError', (err) => this.log.debug('TLS handshake failed', { error: err.message }));
    this.mqttsServer = mqtts;
    mqtts.listen({ port: o.mqttsPort, host: o.host, backlog: LISTEN_BACKLOG });
    await once(mqtts, 'listening');
    return { port: (server.address() as AddressInfo).port, mqttsPort: (mqtts.address() as AddressInfo).port };
  }

  /**
   * Stops taking connections (both ports), leaving those open to the broker's stop: a Pi that retries
   * meanwhile is refused at once instead of paying a handshake with a hub that is going away.
   */
  stopAccepting(): void {
    this.gate?.close();
    this.httpsServer?.close();
    this.mqttsServer?.close();
  }

  async close(): Promise<void> {
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    const closeServer = (s: https.Server | tls.Server | null) => new Promise<void>((resolve) => {
      if (!s) return resolve();
      s.close(() => resolve());
      (s as https.Server).closeAllConnections?.();
    });
    await Promise.all([closeServer(this.httpsServer), closeServer(this.mqttsServer)]);
  }
}

/**
 * The listener for errors that aedes reports on its client. Defined here, not inline: a closure made in
 * the upgrade handler shares that handler's scope, which holds the upgrade request, and so kept the
 * request (its headers and stream state) for the connection's lifetime (docs/BENCHMARKING.md, "Memory
 * per connection, where it goes").
 */
function ignore(): void {}

function remoteOf(socket: TLSSocket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}
