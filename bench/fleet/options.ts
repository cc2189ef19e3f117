// The fleet section's settings, from the environment (docs/BENCHMARKING.md, "Fleet"). A bad value
// stops the bench before any load, as every other setting does.
export type FleetContender = 'pi-hub' | 'aedes' | 'mosquitto';

export interface FleetOptions {
  /** Simulated Pis; 0 skips the section. */
  size: number;
  workers: number;
  contenders: FleetContender[];
  /** First connections not yet up at a time, over all simulator processes. */
  inFlight: number;
  rampTimeoutS: number;
  statsEveryMs: number;
  loadSeconds: number;
  /** Requests a second from the user to random Pis during the load. */
  cmdRate: number;
  storm: boolean;
  stormTimeoutS: number;
  /** The agent's defaults (agent/config.ts). */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Settings for the fleet hub's hub.json (none: every limit at its default, as shipped). */
  hubJson: Record<string, unknown>;
  /** Node/V8 flags for the Node brokers, and for the simulator processes. */
  nodeArgs: string[];
  simArgs: string[];
  /** Where each round trip of the load is appended, if anywhere. */
  rttLog: string | null;
}

const FLEET_CONTENDERS: FleetContender[] = ['pi-hub', 'aedes', 'mosquitto'];

export const FLEET_USAGE = `Fleet (simulated Pis, each with its own certificate and a persistent session):
  BENCH_FLEET=N              Pis (200; --quick 50; 0 skips the section; 10000 for the issue's figure)
  BENCH_FLEET_WORKERS=N      simulator processes (1 per 2,500 Pis, at least 2)
  BENCH_FLEET_CONTENDERS=…   pi-hub,aedes,mosquitto
  BENCH_FLEET_LOAD_S=N       seconds of stats every 5 s plus requests (20; 0 skips)
  BENCH_FLEET_CMD_RATE=N     requests a second during the load (20)
  BENCH_FLEET_STORM=0        skip the restart of pi-hub under the fleet
  BENCH_FLEET_HUB_JSON=…     settings for the fleet's hub.json ('{"mqttAcceptPerSecond":300}'; default: none, as shipped)
  BENCH_FLEET_NODE_ARGS=…    Node/V8 flags for the Node brokers (--cpu-prof --cpu-prof-dir=DIR, …)
  BENCH_FLEET_SIM_ARGS=…     Node flags for the simulator processes (--cpu-prof --cpu-prof-dir=DIR, …)
  BENCH_FLEET_RTT_LOG=FILE   each round trip of the load: "<send time, epoch ms> <ms> <probe|fleet> <id>" a line,
                             and in FILE.pi what the Pi did: "<id> <received> <answered>" (epoch ms)
  PIFLEET_LOOP_LOG=FILE      the Node broker's event-loop delay and GC pauses, a JSON line a second
  PIFLEET_ALLOC_PROFILE=FILE the Node broker's allocations, sampled, as a .heapprofile (DevTools opens it), from
  PIFLEET_ALLOC_PROFILE_AT=START,SECONDS   START s after the broker started, for SECONDS (30,20)
  PIFLEET_ALLOC_PROFILE_SURVIVORS=1        only what outlived the scavenges (what gets promoted)
`;

export function parseFleetOptions(env: NodeJS.ProcessEnv, quick: boolean, fail: (msg: string) => Error): FleetOptions {
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw fail(`${name} must be an integer in ${min}–${max} (got ${JSON.stringify(raw)})`);
    return n;
  };
  const size = int('BENCH_FLEET', quick ? 50 : 200, 0, 20_000);
  const contenders = (env.BENCH_FLEET_CONTENDERS ?? FLEET_CONTENDERS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of contenders) if (!FLEET_CONTENDERS.includes(c as FleetContender)) throw fail(`BENCH_FLEET_CONTENDERS: unknown contender ${c} (${FLEET_CONTENDERS.join(', ')})`);
  return {
    size,
    workers: int('BENCH_FLEET_WORKERS', Math.max(2, Math.ceil(size / 2500)), 1, 64),
    contenders: contenders as FleetContender[],
    inFlight: 20,
    rampTimeoutS: Math.max(60, Math.ceil(size / 20)),
    statsEveryMs: 5000,
    loadSeconds: int('BENCH_FLEET_LOAD_S', quick ? 5 : 20, 0, 3600),
    cmdRate: int('BENCH_FLEET_CMD_RATE', 20, 1, 10_000),
    storm: env.BENCH_FLEET_STORM !== '0',
    stormTimeoutS: Math.max(60, Math.ceil(size / 50)),
    reconnectMinMs: 1000,
    reconnectMaxMs: 60_000,
    hubJson: hubJson(env.BENCH_FLEET_HUB_JSON, fail),
    nodeArgs: words(env.BENCH_FLEET_NODE_ARGS),
    simArgs: words(env.BENCH_FLEET_SIM_ARGS),
    rttLog: env.BENCH_FLEET_RTT_LOG || null,
  };
}

const words = (s: string | undefined) => (s ?? '').split(/\s+/).filter(Boolean);

/** BENCH_FLEET_HUB_JSON: a JSON object (the hub itself checks its settings when it starts). */
function hubJson(raw: string | undefined, fail: (msg: string) => Error): Record<string, unknown> {
  if (raw === undefined || raw === '') return {};
  let v: unknown;
  try { v = JSON.parse(raw); } catch { throw fail(`BENCH_FLEET_HUB_JSON must be a JSON object such as '{"mqttAcceptPerSecond":300}' (got ${JSON.stringify(raw.slice(0, 80))})`); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(`BENCH_FLEET_HUB_JSON must be a JSON object such as '{"mqttAcceptPerSecond":300}' (got ${JSON.stringify(raw.slice(0, 80))})`);
  return v as Record<string, unknown>;
}
