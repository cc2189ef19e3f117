// A packet as a row: every field but the payload as JSON, the payload as a BLOB. A stored packet comes
// back with the same fields it went in with — aedes-persistence's suite compares them whole: a pubrel
// that replaced a publish is `{cmd, messageId}` and nothing more, a publish queued for a session keeps
// `messageId: undefined`, and a payload given as a string comes back a string.

/** How the payload was given: none (a pubrel), bytes, or text. */
export const enum PayloadKind { None = 0, Bytes = 1, Text = 2 }

export interface EncodedPacket { meta: string; kind: PayloadKind; payload: Buffer | null }

export function encodePacket(packet: object, omit?: string): EncodedPacket {
  const fields: Record<string, unknown> = {};
  const undef: string[] = [];
  let payload: unknown;
  for (const [k, v] of Object.entries(packet)) {
    if (k === 'payload') payload = v;
    else if (k === omit) continue;
    else if (v === undefined) undef.push(k);
    else fields[k] = v;
  }
  const meta = JSON.stringify(undef.length === 0 ? [fields] : [fields, undef]);
  if (payload === undefined || payload === null) return { meta, kind: PayloadKind.None, payload: null };
  if (typeof payload === 'string') return { meta, kind: PayloadKind.Text, payload: Buffer.from(payload, 'utf8') };
  const bytes = payload as Uint8Array;
  return { meta, kind: PayloadKind.Bytes, payload: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

export function decodePacket<T = Record<string, unknown>>(meta: string, kind: number, payload: Buffer | null): T {
  const [fields, undef] = JSON.parse(meta) as [Record<string, unknown>, string[] | undefined];
  if (undef) for (const k of undef) fields[k] = undefined;
  if (kind === PayloadKind.Bytes) fields.payload = payload ?? Buffer.alloc(0);
  else if (kind === PayloadKind.Text) fields.payload = (payload ?? Buffer.alloc(0)).toString('utf8');
  return fields as T;
}

/** The payload bytes a packet holds (what a session's queue bound counts). */
export function payloadBytes(packet: { payload?: unknown }): number {
  const p = packet.payload;
  if (typeof p === 'string') return Buffer.byteLength(p);
  return (p as Uint8Array | undefined)?.byteLength ?? 0;
}
