// One process of the fleet simulator: virtual Pis, each on the agent's own MQTT link (agent/mqtt-link.ts:
// its device certificate, client id = serial, a persistent session, a retained will, reconnects with
// capped exponential backoff and full jitter), subscribing as the agent does (its requests and GPIO
// sets), announcing itself as the agent does (status and manifest, QoS 1, retained), publishing stats
// every `statsEveryMs` with ±20 % jitter when told to, and answering every request at once.
//
// Forked by fleet.ts with an IPC channel; every message in either direction is a SimMessage/SimReport.
// Bounded: it only connects the devices it is given, to the URL it is given (127.0.0.1), and exits
// when told to stop or when its parent goes away.
import { appendFileSync, readFileSync } from 'node:fs';
import { type LinkEvents, MqttLink } from '../../agent/mqtt-link.js';
import type { Fields, Logger } from '../../shared/log.js';
import { CmdRequestSchema, type CmdResult, type Manifest, type Stats, type Status } from '../../shared/schemas.js';
import { parseDeviceTopic, topics } from '../../shared/topics.js';
import type { FleetDevice } from './enroll-bulk.js';

export type SimMessage =
  | {
    type: 'start'; url: string; ca: string; devicesFile: string; from: number; to: number; inFlight: number; reconnectMinMs: number; reconnectMaxMs: number;
    /** Appends "<request id> <received, epoch ms> <answered, epoch ms>" a line for each request (BENCH_FLEET_RTT_LOG's `.pi`). */
    hopLog?: string;
  }
  | { type: 'stats'; everyMs: number }
  /** From now on count each Pi once when it is up again (`back`): a restart's measure. */
  | { type: 'mark' }
  | { type: 'stop' };

export interface SimCounts {
  /** Links up now (connected, subscribed, announced). */
  up: number;
  /** Devices that were up at least once. */
  everUp: number;
  /** 'down' events (a connection lost or refused). */
  downs: number;
  statsSent: number;
  requestsAnswered: number;
  /** Pis up again since the last 'mark' (each once; one that never noticed it was cut does not count). */
  back: number;
  /** What the links logged (agent/mqtt-link.ts), counted by message and error: why Pis are not back. */
  events?: Record<string, number>;
}

export type SimReport =
  | ({ type: 'counts' } & SimCounts)
  | { type: 'stopped' }
  | { type: 'error'; message: string };

/** The links' log lines, counted instead of written (10,000 Pis would flood the bench's output). */
const events: Record<string, number> = {};
const counting: Logger = {
  debug: () => {},
  info: (msg, f) => count(msg, f),
  warn: (msg, f) => count(msg, f),
  error: (msg, f) => count(msg, f),
  child: () => counting,
};
function count(msg: string, f?: Fields): void {
  const key = `${msg}${f?.error ? `: ${String(f.error).slice(0, 80)}` : ''}${f?.attempt !== undefined ? ` (attempt ${f.attempt})` : ''}`;
  events[key] = (events[key] ?? 0) + 1;
}

const send = (r: SimReport) => { if (process.connected) process.send!(r); };

class SimPi {
  readonly link: MqttLink;
  up = false;
  everUp = false;
  /** Up again since the last 'mark'. */
  back = false;
  private subscribed = false;
  private statsTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly d: FleetDevice, url: string, ca: string, o: { reconnectMinMs: number; reconnectMaxMs: number }, private readonly counts: SimCounts,
    private readonly hopLog?: string,
  ) {
    const serial = d.serial;
    const credentials = { key: d.key, cert: d.cert, ca };
    this.link = new MqttLink({
      url, clientId: serial, credentials: () => credentials,
      will: { topic: topics.status(serial), payload: () => JSON.stringify({ v: 1, online: false, ts: Date.now() }) },
      reconnectMinMs: o.reconnectMinMs, reconnectMaxMs: o.reconnectMaxMs, refusedRetryMs: 60_000,
      log: counting,
      onConnect: async (client, sessionPresent) => {
        // As the agent (agent/parts/link.ts): again only when the hub did not keep the session.
        if (!sessionPresent || !this.subscribed) await client.subscribeAsync([topics.cmdReq(serial), topics.gpioSetAll(serial)], { qos: 1 });
        this.subscribed = true;
        const status: Status = { v: 1, online: true, ts: Date.now(), agentVersion: 'fleet-sim' };
        const manifest: Manifest = { v: 1, ts: Date.now(), agentVersion: 'fleet-sim', device: { model: null, hostname: serial }, modules: [], doctor: false, gpio: [] };
        await client.publishAsync(topics.status(serial), JSON.stringify(status), { qos: 1, retain: true });
        await client.publishAsync(topics.manifest(serial), JSON.stringify(manifest), { qos: 1, retain: true });
      },
    });
    const on = <K extends keyof LinkEvents>(ev: K, fn: (...a: LinkEvents[K]) => void) => this.link.on(ev, fn as never);
    on('up', () => {
      if (!this.back) { this.back = true; counts.back++; }
      if (this.up) return;
      this.up = true;
      counts.up++;
      if (!this.everUp) { this.everUp = true; counts.everUp++; }
    });
    on('down', () => {
      counts.downs++;
      if (this.up) { this.up = false; counts.up--; }
    });
    on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  private onMessage(topic: string, payload: Buffer): void {
    const received = performance.timeOrigin + performance.now();
    const t = parseDeviceTopic(topic);
    if (t?.kind !== 'cmd-req') return;
    let req;
    try { req = CmdRequestSchema.parse(JSON.parse(payload.toString())); } catch { return; }
    const res: CmdResult = { v: 1, id: req.id, ok: true, exitCode: 0, signal: null, stdout: 'ok\n', stderr: '', truncated: false, durationMs: 0 };
    this.link.publish(topics.cmdRes(this.d.serial, req.id), JSON.stringify(res), { qos: 1 })
      .then(() => { this.counts.requestsAnswered++; }, () => {});
    if (this.hopLog) appendFileSync(this.hopLog, `${req.id} ${received.toFixed(1)} ${(performance.timeOrigin + performance.now()).toFixed(1)}\n`);
  }

  statsEvery(ms: number): void {
    if (this.statsTimer) { clearTimeout(this.statsTimer); this.statsTimer = null; }
    if (ms <= 0) return;
    const tick = () => {
      // ±20 % jitter, as many Pis started together drift apart: no synchronized bursts.
      this.statsTimer = setTimeout(tick, ms * (0.8 + 0.4 * Math.random()));
      if (!this.link.connected) return;
      const s: Stats = {
        v: 1, ts: Date.now(), cpu: { load: Math.round(Math.random() * 400) / 100, tempC: 48.3 },
        mem: { total: 4_000_000_000, used: 1_200_000_000 + Math.round(Math.random() * 1e8) },
        disk: [{ mount: '/', size: 31_000_000_000, used: 9_000_000_000 }],
        net: [{ iface: 'eth0', rxBytes: 123_456_789, txBytes: 98_765_432 }],
        uptimeSec: Math.round(process.uptime()),
      };
      this.link.publish(topics.stats(this.d.serial), JSON.stringify(s), { qos: 0 }).then(() => { this.counts.statsSent++; }, () => {});
    };
    this.statsTimer = setTimeout(tick, Math.random() * ms); // spread over the first period
  }

  stop(): Promise<void> {
    this.statsEvery(0);
    return this.link.stop();
  }
}

const counts: SimCounts = { up: 0, everUp: 0, downs: 0, statsSent: 0, requestsAnswered: 0, back: 0 };
const pis: SimPi[] = [];
let reporter: NodeJS.Timeout | null = null;

async function start(m: Extract<SimMessage, { type: 'start' }>): Promise<void> {
  const all = JSON.parse(readFileSync(m.devicesFile, 'utf8')) as FleetDevice[];
  const mine = all.slice(m.from, m.to);
  reporter = setInterval(() => send({ type: 'counts', ...counts, events }), 250);
  // The first connections: at most `inFlight` not yet up at a time (a ramp, not a storm). After that
  // each link reconnects on its own, with the agent's backoff.
  let next = 0;
  const launch = () => {
    while (next < mine.length && pis.length - counts.everUp < m.inFlight) {
      const pi = new SimPi(mine[next++]!, m.url, m.ca, m, counts, m.hopLog);
      pi.link.once('up', launch);
      pi.link.once('down', () => setTimeout(launch, 100));
      pis.push(pi);
      pi.link.start();
    }
  };
  launch();
}

process.on('message', (m: SimMessage) => {
  if (m.type === 'start') start(m).catch((err: Error) => send({ type: 'error', message: err.message }));
  else if (m.type === 'stats') for (const p of pis) p.statsEvery(m.everyMs);
  else if (m.type === 'mark') { counts.back = 0; for (const p of pis) p.back = false; }
  else if (m.type === 'stop') {
    if (reporter) clearInterval(reporter);
    send({ type: 'counts', ...counts, events });
    // Ends each session with DISCONNECT (no will): the next contender starts from a quiet machine.
    void Promise.all(pis.map((p) => Promise.race([p.stop(), new Promise((r) => setTimeout(r, 3000))])))
      .finally(() => { send({ type: 'stopped' }); process.exit(0); });
  }
});
process.on('disconnect', () => process.exit(0));
