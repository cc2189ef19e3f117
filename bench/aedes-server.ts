// Bare stock Aedes, the baseline: `Aedes.createBroker()` with no hooks, on the hub's transports —
// mTLS WebSocket with ws's stock createWebSocketStream (no write coalescing: that is what "stock"
// means) and mqtts — TLS 1.3, client certificates required, the same certificates as the hub.
//
//   node dist/bench/aedes-server.js --key F --cert F --ca F [--port N] [--mqtts-port N]
//
// Prints "listening wss://127.0.0.1:P/mqtt mqtts://127.0.0.1:Q" on stderr; SIGTERM stops it.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

const HOST = '127.0.0.1';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { key: { type: 'string' }, cert: { type: 'string' }, ca: { type: 'string' }, port: { type: 'string' }, 'mqtts-port': { type: 'string' } },
  });
  if (!values.key || !values.cert || !values.ca) throw new Error('usage: aedes-server --key F --cert F --ca F [--port N] [--mqtts-port N]');
  const tlsOptions: tls.TlsOptions = {
    key: readFileSync(values.key), cert: readFileSync(values.cert), ca: readFileSync(values.ca),
    minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: true,
  };

  const aedes = await Aedes.createBroker();

  const server = https.createServer(tlsOptions);
  const wss = new WebSocketServer({ server, path: '/mqtt', perMessageDeflate: false });
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws);
    stream.on('error', () => {});
    aedes.handle(stream, req);
  });
  server.listen(Number(values.port ?? 0), HOST);
  await once(server, 'listening');

  // As the hub does on its mqtts port: Nagle off, errors reported by aedes.
  const mqtts = tls.createServer(tlsOptions, (socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    aedes.handle(socket);
  });
  mqtts.listen(Number(values['mqtts-port'] ?? 0), HOST);
  await once(mqtts, 'listening');

  process.stderr.write(`listening wss://${HOST}:${(server.address() as AddressInfo).port}/mqtt mqtts://${HOST}:${(mqtts.address() as AddressInfo).port}\n`);

  process.once('SIGTERM', () => {
    for (const c of wss.clients) c.terminate();
    server.closeAllConnections();
    server.close();
    mqtts.close();
    aedes.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

main().catch((err: Error) => {
  process.stderr.write(`aedes-server: ${err.message}\n`);
  process.exit(1);
});
