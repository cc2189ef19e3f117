// Payloads the hub accepts, so that all contenders carry the same bytes and the hub's own checks (stats
// recorded once a second, requests and results validated and audited) run as in production. Pure.

/**
 * A valid stats message (StatsSchema, shared/schemas.ts) of exactly `bytes` bytes, padded through
 * `uptimeSec`'s decimals; raw bytes if it cannot fit. The smallest such message is 100 bytes, with a
 * 10-digit `ts`, so 100 bytes means small figures (and a `ts` that only looks like seconds: the bench
 * hub's data is thrown away).
 */
export function statsPayload(bytes: number, ts = Math.floor(Date.now() / 1000)): Buffer {
  const build = (uptime: string) => `{"v":1,"ts":${ts},"cpu":{"load":0},"mem":{"total":1,"used":1},"disk":[],"net":[],"uptimeSec":${uptime}}`;
  const room = bytes - build('').length;
  if (room < 1) return Buffer.alloc(bytes, 0x61);
  return Buffer.from(build(room < 3 ? '7'.repeat(room) : `7.${'5'.repeat(room - 2)}`));
}

export const requestId = (n: number) => `r${n.toString(36)}`;

export function requestPayload(id: string): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, id, module: 'bench', command: 'noop' }));
}

export function resultPayload(id: string): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, id, ok: true, exitCode: 0, signal: null, stdout: '', stderr: '', truncated: false, durationMs: 0 }));
}

/** The request id inside a request payload, or null. */
export function idOfRequest(payload: Buffer): string | null {
  try {
    const id = (JSON.parse(payload.toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}
