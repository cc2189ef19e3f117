// The few MQTT 3.1.1 packets the page needs (OASIS MQTT 3.1.1, section 2 and 3): CONNECT with a clean
// session, SUBSCRIBE, PUBLISH at QoS 0/1 both ways, PUBACK, PINGREQ, DISCONNECT. Pure: bytes in,
// packets out. mqtt.js bundles for the browser, but at 105 KB gzipped it would be three times the rest of
// the page, and its keep-alive timers start a Worker from a blob: URL, which the page's CSP refuses.

export type Packet =
  | { type: 'connack'; returnCode: number }
  | { type: 'suback'; id: number; granted: number[] }
  | { type: 'publish'; topic: string; payload: Uint8Array; qos: 0 | 1; retain: boolean; id: number }
  | { type: 'puback'; id: number }
  | { type: 'pingresp' }
  | { type: 'other'; code: number };

/** Bytes the page owns (not a view into shared memory): what WebSocket.send takes. */
export type Bytes = Uint8Array<ArrayBuffer>;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function str(s: string): number[] {
  const b = utf8.encode(s);
  return [b.length >> 8, b.length & 0xff, ...b];
}

/** [MQTT-2.2.3] the remaining length, 1–4 bytes of 7 bits. */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function packet(first: number, body: ArrayLike<number>): Bytes {
  const len = varint(body.length);
  const out = new Uint8Array(1 + len.length + body.length);
  out[0] = first;
  out.set(len, 1);
  out.set(body, 1 + len.length);
  return out;
}

/** [MQTT-3.1] protocol level 4, clean session, no user name or password: the cookie or the certificate says who. */
export function connect(clientId: string, keepAliveSec: number): Bytes {
  return packet(0x10, [...str('MQTT'), 4, 0x02, keepAliveSec >> 8, keepAliveSec & 0xff, ...str(clientId)]);
}

/** [MQTT-3.8.1-1] SUBSCRIBE has the flags 0010. */
export function subscribe(id: number, filters: ReadonlyArray<{ topic: string; qos: 0 | 1 }>): Bytes {
  const body = [id >> 8, id & 0xff];
  for (const f of filters) body.push(...str(f.topic), f.qos);
  return packet(0x82, body);
}

export function publish(topic: string, payload: Uint8Array, qos: 0 | 1, id: number): Bytes {
  const head = [...str(topic), ...(qos > 0 ? [id >> 8, id & 0xff] : [])];
  const body = new Uint8Array(head.length + payload.length);
  body.set(head);
  body.set(payload, head.length);
  return packet(0x30 | (qos << 1), body);
}

export const puback = (id: number): Bytes => packet(0x40, [id >> 8, id & 0xff]);
export const pingreq = (): Bytes => new Uint8Array([0xc0, 0]);
export const disconnect = (): Bytes => new Uint8Array([0xe0, 0]);

/**
 * Reads packets from a byte stream: a WebSocket message may carry several packets, and nothing forbids
 * a packet to span messages [MQTT-6.0.0-2], so bytes wait here until a packet is whole.
 */
export class PacketReader {
  private buf = new Uint8Array(0);

  /** The packets completed by these bytes; a malformed header is an error value, and the stream is unusable after it. */
  push(bytes: Uint8Array): Packet[] | Error {
    let joined = bytes;
    if (this.buf.length > 0) {
      joined = new Uint8Array(this.buf.length + bytes.length);
      joined.set(this.buf);
      joined.set(bytes, this.buf.length);
    }
    const out: Packet[] = [];
    let at = 0;
    for (;;) {
      if (joined.length - at < 2) break;
      let len = 0;
      let mul = 1;
      let i = at + 1;
      let complete = false;
      for (; i < joined.length && i < at + 5; i++) {
        len += (joined[i]! & 0x7f) * mul;
        mul *= 128;
        if ((joined[i]! & 0x80) === 0) { complete = true; break; }
      }
      if (!complete) {
        if (i >= at + 5) return new Error('malformed remaining length');
        break;
      }
      const start = i + 1;
      if (joined.length < start + len) break;
      const p = decode(joined[at]!, joined.subarray(start, start + len));
      if (p instanceof Error) return p;
      out.push(p);
      at = start + len;
    }
    this.buf = at === joined.length ? new Uint8Array(0) : joined.slice(at);
    return out;
  }
}

function decode(first: number, b: Uint8Array): Packet | Error {
  const u16 = (i: number) => (b[i]! << 8) | b[i + 1]!;
  switch (first >> 4) {
    case 2: return b.length === 2 ? { type: 'connack', returnCode: b[1]! } : new Error('bad CONNACK');
    case 9: return b.length >= 3 ? { type: 'suback', id: u16(0), granted: [...b.subarray(2)] } : new Error('bad SUBACK');
    case 4: return b.length === 2 ? { type: 'puback', id: u16(0) } : new Error('bad PUBACK');
    case 13: return { type: 'pingresp' };
    case 3: {
      const qos = (first >> 1) & 3;
      if (qos > 1) return new Error('QoS 2 was never subscribed to');
      if (b.length < 2) return new Error('bad PUBLISH');
      const tlen = u16(0);
      let at = 2 + tlen;
      if (b.length < at + (qos ? 2 : 0)) return new Error('bad PUBLISH');
      const topic = fromUtf8.decode(b.subarray(2, at));
      let id = 0;
      if (qos) { id = u16(at); at += 2; }
      return { type: 'publish', topic, payload: b.slice(at), qos: qos as 0 | 1, retain: (first & 1) === 1, id };
    }
    default: return { type: 'other', code: first >> 4 };
  }
}
