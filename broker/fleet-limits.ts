// The limits that keep one hub standing under a large fleet (issue 14; docs/ARCHITECTURE.md, "Limits"):
// how many MQTT connections it holds, how many Pis one user may enroll, and how many stats messages a
// Pi may send. Each is a clear refusal — CONNACK 3, 403 device_quota, a dropped message with an audit
// line — never a crash.

export interface FleetLimits {
  /** MQTT connections at once, over both listeners; beyond, CONNACK 3 (server unavailable). */
  maxConnections: number;
  /** Pis one user may have enrolled (not removed); beyond, POST /api/v1/enroll answers 403 device_quota. */
  maxDevicesPerUser: number;
  /** Stats messages per Pi: `burst` at once, then `perMinute` a minute; beyond, dropped. */
  stats: StatsRate;
  /**
   * New MQTT connections a second, both listeners together (as many at once): beyond, a connection
   * waits its turn (a few seconds' worth), and beyond that a WebSocket upgrade is answered 503 with
   * Retry-After and an mqtts connection closed before CONNECT, so a reconnect storm queues at the Pis
   * instead of in the hub's event loop (accept-gate.ts).
   */
  acceptPerSecond: number;
}

export interface StatsRate { perMinute: number; burst: number }

export const DEFAULT_FLEET_LIMITS: FleetLimits = {
  maxConnections: 20_000,
  maxDevicesPerUser: 10_000,
  stats: { perMinute: 60, burst: 60 },
  acceptPerSecond: 400,
};

export function fleetLimitsFrom(file: { maxConnections?: number; maxDevicesPerUser?: number; statsPerMinute?: number; mqttAcceptPerSecond?: number }): FleetLimits {
  const d = DEFAULT_FLEET_LIMITS;
  return {
    maxConnections: file.maxConnections ?? d.maxConnections,
    maxDevicesPerUser: file.maxDevicesPerUser ?? d.maxDevicesPerUser,
    // A minute's worth at once (at least 10): a Pi catching up after a stall, or a test, is not cut.
    stats: { perMinute: file.statsPerMinute ?? d.stats.perMinute, burst: Math.max(10, Math.ceil(file.statsPerMinute ?? d.stats.perMinute)) },
    acceptPerSecond: file.mqttAcceptPerSecond ?? d.acceptPerSecond,
  };
}

/** Where a Pi's stats bucket lives: on its tracker entry, so that reconnecting does not refill it. */
export interface StatsBucket { statsTokens?: number; statsAt?: number }

/** Takes a token from the Pi's stats bucket; false when it has none (the message is dropped). */
export function takeStatsToken(b: StatsBucket, rate: StatsRate, now = Date.now()): boolean {
  const refillMs = 60_000 / rate.perMinute;
  let tokens = b.statsTokens ?? rate.burst;
  const at = b.statsAt ?? now;
  const refill = Math.floor((now - at) / refillMs);
  if (refill > 0) {
    tokens = Math.min(rate.burst, tokens + refill);
    b.statsAt = tokens === rate.burst ? now : at + refill * refillMs;
  } else {
    b.statsAt = at;
  }
  if (tokens <= 0) { b.statsTokens = 0; return false; }
  b.statsTokens = tokens - 1;
  return true;
}
