// What the page takes from MQTT. The hub delivers status, manifest, doctor, GPIO states and results
// only after checking them against shared/schemas.ts (docs/ARCHITECTURE.md, "Topics and payloads"), so
// the page parses those and trusts their shape. Stats it forwards unchecked (it checks them when it
// records them), so here they are checked for everything the page reads. zod stays out of the page:
// with the schemas it was 27 KB gzipped, more than a third of the whole.
import type { Stats } from '../../../shared/schemas.js';

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const nothing = (x: unknown) => x === null || x === undefined;

/** A JSON object with `"v": 1`, or null. */
export function parsePayload(bytes: Uint8Array): Obj | null {
  try {
    const x: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return isObj(x) && x.v === 1 ? x : null;
  } catch {
    return null;
  }
}

export function isStats(x: unknown): x is Stats {
  if (!isObj(x) || !num(x.ts) || !num(x.uptimeSec) || !isObj(x.cpu) || !isObj(x.mem)) return false;
  const { cpu, mem } = x;
  return num(cpu.load) && (nothing(cpu.tempC) || num(cpu.tempC)) && num(mem.total) && num(mem.used)
    && Array.isArray(x.disk) && x.disk.every((d) => isObj(d) && typeof d.mount === 'string' && num(d.size) && num(d.used))
    && Array.isArray(x.net) && x.net.every((n) => isObj(n) && typeof n.iface === 'string' && num(n.rxBytes) && num(n.txBytes))
    && (nothing(x.throttled) || (isObj(x.throttled) && Object.values(x.throttled).every((b) => typeof b === 'boolean' || num(b))));
}
