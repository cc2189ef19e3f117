// What the hub accepts from any one client, in one place (README "Limits"). Each bound exists because
// a holder of a valid certificate could otherwise make the hub spend time or memory for everyone.
import type { DeviceTopic } from './topics.js';

/**
 * The largest MQTT packet (remaining length) a client may send: what one WebSocket frame may carry on
 * the HTTPS listener, for both transports. Before CONNACK only a CONNECT is due, and a client the hub
 * will refuse has not proved who it is: it may not make the hub buffer more than a small one.
 */
export const MAX_PACKET_BYTES = 1024 * 1024;
export const MAX_PACKET_BYTES_BEFORE_CONNACK = 64 * 1024;

/**
 * What the hub holds for one connection that does not read what it is sent. A full socket never makes
 * the hub wait (aedes's deliveries waited for each client's drain, so one client that stopped reading
 * held up routing for every user for 60 s). Beyond the first bound, QoS 0 messages (stats) are dropped
 * for that client; beyond the second, the connection is closed (a persistent session keeps its QoS 1
 * messages for when it returns).
 */
export const DROP_QOS0_BACKLOG_BYTES = 1024 * 1024;
export const MAX_WRITE_BACKLOG_BYTES = 8 * 1024 * 1024;

/** Topic filters in one SUBSCRIBE: beyond this every filter of the packet is refused (SUBACK 0x80). */
export const MAX_FILTERS_PER_SUBSCRIBE = 64;
/**
 * A SUBSCRIBE with more filters than this closes the connection instead: answering each with 0x80
 * costs the event loop ~6 µs a filter, and a 1 MiB packet holds 40,000.
 */
export const MAX_FILTERS_ANSWERED = 1024;
/** Distinct topic filters one session may hold: a further one is refused (SUBACK 0x80). */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 256;

/**
 * The largest payload per kind of message. Bigger ones are dropped (a request is answered with an
 * error result). Since only status, manifest, doctor and GPIO states may be retained, one device holds
 * at most 3 + 60 retained messages and 1 + 256 + 64 + 60 × 1 KiB = 381 KiB of retained payload.
 */
export const MAX_PAYLOAD_BYTES: Readonly<Record<DeviceTopic['kind'], number>> = {
  status: 1024,
  stats: 32 * 1024,
  manifest: 256 * 1024,
  doctor: 64 * 1024,
  'gpio-state': 1024,
  'gpio-set': 1024,
  'cmd-req': 64 * 1024,
  'cmd-res': 512 * 1024,
};

/** The kinds a device may publish retained: its current state. Everything else is a one-off. */
export const RETAINED_KINDS: ReadonlySet<DeviceTopic['kind']> = new Set(['status', 'manifest', 'doctor', 'gpio-state']);

/** Parameters in one command request, and the length of one string value. */
export const MAX_PARAMS = 32;
export const MAX_PARAM_CHARS = 4096;

/** What a command's result may carry per stream: the agent caps each at 64 KiB. */
export const MAX_OUTPUT_CHARS = 64 * 1024;

/** An audit entry's detail, as JSON: longer ones are kept as their start and their size. */
export const MAX_AUDIT_DETAIL_CHARS = 2048;

/**
 * The longest Retry-After the hub's accept gate gives a deferred connection (broker/accept-gate.ts), and
 * the longest the agent follows: beyond it the schedule is not extended and the agent waits no longer.
 */
export const MAX_RETRY_AFTER_S = 300;
