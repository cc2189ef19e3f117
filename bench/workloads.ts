// The three workloads, run inside the generator process against one contender:
//
// - fan-in: N publishers → 1 subscriber on `devices/#`. Flow is bounded end to end: a publisher may
//   have at most `window` messages sent and not yet received by the subscriber, and refills in
//   batches of window/2. Brokers that acknowledge before delivering (Aedes) cannot build queues.
// - rtt: a user publishes `devices/<serial>/cmd/req` at a fixed offered rate, the device answers on
//   `…/cmd/res/<id>`. Latency counts from the *scheduled* send time, so a stalled generator or broker
//   shows up as latency instead of silently lowering the rate (no coordinated omission).
// - connect: `connections` mTLS connections up to CONNACK, `connConcurrency` in flight, kept open until
//   the last one so the broker's memory for them can be read, then closed.
import type { MqttClient } from 'mqtt';
import { topics } from '../shared/topics.js';
import { type Credential, type Endpoints, closeAll, connectClient, nodeFor } from './clients.js';
import type { BenchOptions, Qos, Transport, Workload } from './options.js';
import { idOfRequest, requestId, requestPayload, resultPayload, statsPayload } from './payloads.js';
import { rssOf, startCpuWindow } from './proc.js';
import { quantile } from './stats.js';

export type Device = Credential & { serial: string };

export interface Job {
  workload: Workload;
  contender: string;
  endpoints: Endpoints;
  user: Credential;
  devices: Device[];
  /** Every process of the broker side: one, or two hub nodes and Redis. */
  brokerPids: number[];
  opts: Pick<BenchOptions, 'seconds' | 'warmupMs' | 'window' | 'payloadBytes' | 'rate' | 'connections' | 'connConcurrency' | 'connectTimeLimitS'>;
}

interface Cpu { generatorPct: number; brokerPct: number; otherPct: number; corePct: number[]; brokerRssMb: number }
export interface FanInResult extends Cpu { kind: 'fan-in'; msgPerS: number; brokerUsPerMsg: number; delivered: number; lostAfterDrain: number }
export interface RttResult extends Cpu { kind: 'rtt'; p50Ms: number; p99Ms: number; maxMs: number; offeredPerS: number; answeredPerS: number; samples: number; unanswered: number }
export interface ConnectResult extends Cpu { kind: 'connect'; connPerS: number; made: number; failed: number; brokerMsPerConn: number; firstError: string | null }
export type Result = FanInResult | RttResult | ConnectResult;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => bytes / 1048576;
const tag = () => Math.random().toString(36).slice(2, 8);

export function runJob(job: Job): Promise<Result> {
  const w = job.workload;
  switch (w.kind) {
    case 'fan-in': return fanIn(job, w.transport, w.qos, w.session ?? false);
    case 'rtt': return roundTrips(job, w.transport, w.session ?? false);
    case 'connect': return connectRate(job, w.transport);
  }
}

/**
 * A persistent session is left without subscriptions at the end of a point, so that the next points
 * do not queue messages for it while it is away (its id is fixed, so it is always the same one).
 */
async function unsubscribeKept(c: MqttClient, filter: string, session: boolean): Promise<void> {
  if (!session || !c.connected) return;
  await Promise.race([c.unsubscribeAsync(filter), sleep(3000)]).catch(() => {});
}

async function fanIn(job: Job, transport: Transport, qos: Qos, session: boolean): Promise<FanInResult> {
  const { opts, endpoints: ep } = job;
  const sub = await connectClient(transport, ep, job.user, session ? 'bench-sub-session' : `bench-sub-${tag()}`, 10_000, !session);
  await sub.subscribeAsync(topics.allDevices(), { qos });
  // With two nodes, every other publisher is on the second node: half the traffic crosses between nodes.
  const pubs = await Promise.all(job.devices.map((d, i) => connectClient(transport, nodeFor(ep, i), d, d.serial)));
  const n = pubs.length;
  const topicOf = job.devices.map((d) => topics.stats(d.serial));
  const index = new Map(topicOf.map((t, i) => [t, i]));
  const payload = statsPayload(opts.payloadBytes);
  const sent = new Array<number>(n).fill(0);
  const recv = new Array<number>(n).fill(0);
  const W = opts.window;
  let received = 0;
  let pumping = true;
  let lastMessageAt = performance.now();
  let foreign = 0;
  let foreignTopic = '';

  const pump = (i: number) => {
    const c = pubs[i]!;
    const t = topicOf[i]!;
    while (sent[i]! - recv[i]! < W) {
      c.publish(t, payload, { qos });
      sent[i]!++;
    }
  };
  sub.on('message', (topic) => {
    const i = index.get(topic);
    if (i === undefined) {
      foreign++;
      foreignTopic ||= topic;
      return;
    }
    recv[i]!++;
    received++;
    lastMessageAt = performance.now();
    if (pumping && sent[i]! - recv[i]! <= W >> 1) pump(i);
  });

  // A broker that delivers on other topics than were published (a mountpoint leak) shows up here.
  const stalled = () => (foreign > 0 ? `; ${foreign} messages arrived on unexpected topics, e.g. ${foreignTopic}` : '');
  try {
    for (let i = 0; i < n; i++) pump(i);
    await watch(opts.warmupMs, () => lastMessageAt, stalled);
    const r0 = received;
    const cpu = startCpuWindow(job.brokerPids);
    await watch(opts.seconds * 1000, () => lastMessageAt, stalled);
    const delivered = received - r0;
    const c = cpu.stop();
    const brokerRssMb = mb(rssOf(job.brokerPids));
    pumping = false;
    const drainEnd = performance.now() + 3000;
    while (received < sent.reduce((a, b) => a + b, 0) && performance.now() < drainEnd) await sleep(20);
    return {
      kind: 'fan-in',
      msgPerS: delivered / c.wallS,
      brokerUsPerMsg: (c.brokerCpuS * 1e6) / delivered,
      delivered,
      lostAfterDrain: sent.reduce((a, b) => a + b, 0) - received,
      generatorPct: c.generatorPct,
      brokerPct: c.brokerPct,
      otherPct: c.otherPct,
      corePct: c.corePct,
      brokerRssMb,
    };
  } finally {
    pumping = false;
    await unsubscribeKept(sub, topics.allDevices(), session);
    await closeAll([...pubs, sub]);
  }
}

/** Waits `ms`, failing if no message has arrived for 5 s (a broker that stopped delivering). */
async function watch(ms: number, lastAt: () => number, detail: () => string = () => ''): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await sleep(Math.min(100, Math.max(0, end - performance.now())));
    if (performance.now() - lastAt() > 5000) throw new Error(`no message delivered for 5 s: the broker stalled or dropped the clients${detail()}`);
  }
}

async function roundTrips(job: Job, transport: Transport, session: boolean): Promise<RttResult> {
  const { opts, endpoints: ep } = job;
  const device = job.devices[0]!;
  const requester = await connectClient(transport, ep, job.user, `bench-req-${tag()}`);
  // On the other node, when there are two.
  const responder = await connectClient(transport, nodeFor(ep, 1), device, device.serial, 10_000, !session);
  const clients: MqttClient[] = [requester, responder];
  try {
    await responder.subscribeAsync(topics.cmdReq(device.serial), { qos: 1 });
    await requester.subscribeAsync(topics.cmdResAll(device.serial), { qos: 1 });
    responder.on('message', (_topic, payload) => {
      const id = idOfRequest(payload);
      if (id) responder.publish(topics.cmdRes(device.serial, id), resultPayload(id), { qos: 1 });
    });

    const resPrefix = topics.cmdRes(device.serial, '');
    const scheduled = new Map<string, number>(); // id → scheduled send time
    const latencies: number[] = [];
    let measureFrom = Number.POSITIVE_INFINITY; // requests scheduled before this are warm-up
    requester.on('message', (topic) => {
      const t0 = scheduled.get(topic.slice(resPrefix.length));
      if (t0 === undefined) return;
      scheduled.delete(topic.slice(resPrefix.length));
      if (t0 >= measureFrom) latencies.push(performance.now() - t0);
    });

    const reqTopic = topics.cmdReq(device.serial);
    const interval = 1000 / opts.rate;
    const start = performance.now();
    measureFrom = start + opts.warmupMs;
    const stopAt = measureFrom + opts.seconds * 1000;
    let k = 0;
    let cpu: ReturnType<typeof startCpuWindow> | null = null;
    let measuredSent = 0;
    while (true) {
      const now = performance.now();
      if (!cpu && now >= measureFrom) cpu = startCpuWindow(job.brokerPids);
      for (let due = start + k * interval; due <= now && due < stopAt; due = start + ++k * interval) {
        const id = requestId(k);
        scheduled.set(id, due);
        if (due >= measureFrom) measuredSent++;
        requester.publish(reqTopic, requestPayload(id), { qos: 1 });
      }
      if (now >= stopAt) break;
      await sleep(1);
    }
    const c = cpu!.stop();
    const waitEnd = performance.now() + 3000;
    while (latencies.length < measuredSent && performance.now() < waitEnd) await sleep(20);
    latencies.sort((a, b) => a - b);
    return {
      kind: 'rtt',
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      maxMs: latencies[latencies.length - 1] ?? Number.NaN,
      offeredPerS: opts.rate,
      answeredPerS: latencies.length / c.wallS,
      samples: latencies.length,
      unanswered: measuredSent - latencies.length,
      generatorPct: c.generatorPct,
      brokerPct: c.brokerPct,
      otherPct: c.otherPct,
      corePct: c.corePct,
      brokerRssMb: mb(rssOf(job.brokerPids)),
    };
  } finally {
    await unsubscribeKept(responder, topics.cmdReq(device.serial), session);
    await closeAll(clients);
  }
}

async function connectRate(job: Job, transport: Transport): Promise<ConnectResult> {
  const { opts, endpoints: ep } = job;
  const clients: MqttClient[] = [];
  let started = 0;
  let failed = 0;
  let firstError: string | null = null;
  const deadline = performance.now() + opts.connectTimeLimitS * 1000;
  const cpu = startCpuWindow(job.brokerPids);
  const worker = async () => {
    while (started < opts.connections && performance.now() < deadline) {
      const i = started++;
      try {
        clients.push(await connectClient(transport, ep, job.user, `bench-conn-${tag()}-${i}`));
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.connConcurrency }, worker));
    const c = cpu.stop();
    const made = clients.length;
    return {
      kind: 'connect',
      connPerS: made / c.wallS,
      made,
      failed,
      firstError,
      brokerMsPerConn: made > 0 ? (c.brokerCpuS * 1000) / made : Number.NaN,
      generatorPct: c.generatorPct,
      brokerPct: c.brokerPct,
      otherPct: c.otherPct,
      corePct: c.corePct,
      brokerRssMb: mb(rssOf(job.brokerPids)), // with all of them open
    };
  } finally {
    await closeAll(clients);
  }
}
