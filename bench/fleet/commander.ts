// The fleet's user sending commands (docs/BENCHMARKING.md, "Fleet"), in a process of its own as a
// dashboard tab is: the bench's main process also receives every Pi's stats (2,000 a second at 10,000
// Pis), and a round trip timed there waits for that process, not for the hub.
//
// Forked by fleet.ts with an IPC channel: it gets a CommanderStart, connects as the user, sends `rate`
// requests a second for `seconds`, alternately to a Pi of the probe group (Pis in a simulator process
// of their own, as a real Pi is a machine of its own) and to a Pi of the whole fleet (simulated 2,500
// to a process), and times each round trip from its scheduled send time (a stall counts: no
// coordinated omission). It answers with a CommanderReport and exits.
import { appendFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { type Credential, type Endpoints, connectClient } from '../clients.js';

export interface CommanderStart {
  endpoints: Endpoints;
  user: Credential;
  probes: string[];
  fleet: string[];
  rate: number;
  seconds: number;
  /** Appends "<send time, epoch ms> <round trip ms> <probe|fleet> <request id>" a line. */
  rttLog?: string;
}

export interface CommanderReport {
  sent: number;
  probe: number[];
  fleet: number[];
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(m: CommanderStart): Promise<CommanderReport> {
  const client: MqttClient = await connectClient('wss', m.endpoints, m.user, `fleet-cmd-${process.pid}`, 15_000);
  const pending = new Map<string, { due: number; group: 'probe' | 'fleet' }>();
  const rtts = { probe: [] as number[], fleet: [] as number[] };
  client.on('message', (topic) => {
    const id = topic.slice(topic.lastIndexOf('/') + 1);
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    const ms = performance.now() - p.due;
    rtts[p.group].push(ms);
    if (m.rttLog) appendFileSync(m.rttLog, `${(performance.timeOrigin + p.due).toFixed(1)} ${ms.toFixed(1)} ${p.group} ${id}\n`);
  });
  await client.subscribeAsync(['devices/+/cmd/res/+'], { qos: 1 });
  const t0 = performance.now();
  const interval = 1000 / m.rate;
  let sent = 0;
  while (performance.now() - t0 < m.seconds * 1000) {
    const due = t0 + sent * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const group = sent % 2 === 0 && m.probes.length > 0 ? 'probe' : 'fleet';
    const pool = group === 'probe' ? m.probes : m.fleet;
    const serial = pool[Math.floor(Math.random() * pool.length)]!;
    const id = `c${sent.toString(36)}x${process.pid}`;
    pending.set(id, { due, group });
    client.publish(`devices/${serial}/cmd/req`, JSON.stringify({ v: 1, id, module: 'core', command: 'uptime' }), { qos: 1 });
    sent++;
  }
  await sleep(2000); // the last answers
  client.end(true);
  return { sent, ...rtts };
}

process.once('message', (m: CommanderStart) => {
  run(m).then(
    (r) => process.send!(r, () => process.exit(0)),
    (err: Error) => process.send!({ sent: 0, probe: [], fleet: [], error: err.message } satisfies CommanderReport, () => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(0));
