// MQTT over WebSocket with one frame per write batch.
//
// mqtt-packet writes one PUBLISH as about five chunks inside cork()/uncork(). ws's
// createWebSocketStream has no _writev, so each chunk became its own WebSocket frame and TLS record.
// MQTT 3.1.1 §6 lets one frame carry several packets [MQTT-6.0.0-2]; a corked batch only ever holds
// whole packets, so concatenating it into one frame never splits a packet across frames (some
// clients assume one packet per frame at least). See docs/BENCHMARKING.md for what it buys.
import type { Duplex, DuplexOptions } from 'node:stream';
import WebSocket, { createWebSocketStream } from 'ws';

export function coalescingWebSocketStream(ws: WebSocket, options?: DuplexOptions): Duplex {
  const duplex = createWebSocketStream(ws, options);
  const write = duplex._write.bind(duplex);
  duplex._writev = (chunks: Array<{ chunk: unknown }>, callback: (error?: Error | null) => void) => {
    const buffers = chunks.map((c) => c.chunk as Buffer);
    write(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers), 'binary', callback);
  };
  // createWebSocketStream only ends the readable side when the socket closes. If the peer terminates
  // while our end() waits in _final for the socket's 'finish' (e.g. the hub drops the TCP connection
  // on DISCONNECT), 'finish' never comes and neither does 'close': mqtt.js's end() then hung until its
  // own timeout. Once everything received has been read, the stream is done.
  ws.once('close', () => {
    if (duplex.destroyed) return;
    if (duplex.readableEnded) duplex.destroy();
    else duplex.once('end', () => duplex.destroy());
  });
  return duplex;
}
