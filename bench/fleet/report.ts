// The fleet section's table (docs/BENCHMARKING.md, "Fleet"). Pure.
import type { FleetResult } from './fleet.js';

const kb = (b: number) => (Number.isFinite(b) ? `${(b / 1024).toFixed(1)} KB` : '–');
const mb = (b: number) => (Number.isFinite(b) ? `${(b / 1048576).toFixed(0)} MB` : '–');
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : '–');
const s = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} s` : '–');

export function renderFleet(results: FleetResult[], skipped: string[]): string {
  if (results.length === 0) return `Fleet: nothing measured${skipped.length ? ` (${skipped.join('; ')})` : ''}`;
  const n = results[0]!.size;
  const lines = [`Fleet: ${n} simulated Pis (own P-256 certificate each, persistent session, the agent's subscriptions), mTLS WebSocket, one broker at a time`];
  const rows: string[][] = [['contender', 'up', 'ramp', 'RSS idle / no Pi', 'per connection', 'stats/s offered → delivered', 'cmd p50 / p99 (max): probe Pis; fleet', 'broker CPU, RSS, disk writes under load (CPUs busy: broker\'s, generator\'s)', 'restart: stop, start; all back (p10, p50, p90)', 'health p99 (failed); kept-alive p99']];
  for (const r of results) {
    const l = r.load;
    const st = r.storm;
    rows.push([
      r.label, `${r.connected}/${r.size}`, s(r.rampS), `${mb(r.fullRss)} / ${mb(r.baseRss)}`, kb(r.perConnBytes),
      l ? `${l.statsOfferedPerS.toFixed(0)} → ${l.statsDeliveredPerS.toFixed(0)}` : '–',
      l ? `${ms(l.probe.p50Ms)} / ${ms(l.probe.p99Ms)} (${ms(l.probe.maxMs)}); ${ms(l.fleet.p50Ms)} / ${ms(l.fleet.p99Ms)} (${ms(l.fleet.maxMs)}), ${l.cmdAnswered}/${l.cmdSent}` : '–',
      l ? `${l.brokerCpuPct.toFixed(0)} %, ${mb(l.brokerRssEnd)}, ${Number.isNaN(l.brokerWritesPerS) ? '?' : `${(l.brokerWritesPerS / 1048576).toFixed(1)} MB/s`}${l.corePct ? ` (${l.corePct.broker.toFixed(0)} %, ${l.corePct.generator.toFixed(0)} %)` : ''}` : '–',
      st ? `${s(st.stopS)}, ${s(st.startS)}; ${s(st.allBackS)} (${s(st.backAt.p10)}, ${s(st.backAt.half)}, ${s(st.backAt.p90)})${st.missing ? `, ${st.missing} missing` : ''}` : '–',
      st ? `${ms(st.healthP99Ms)} (${st.healthFailed}); ${ms(st.keptP99Ms)}` : '–',
    ]);
  }
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) lines.push(row.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd());
  for (const r of results) {
    if (r.memBase && r.memFull) {
      const d = (k: keyof typeof r.memFull) => kb((r.memFull![k] - r.memBase![k]) / Math.max(1, r.connected));
      lines.push(`  ${r.label} per connection after a full GC: rss ${d('rss')}, V8 heap used ${d('heapUsed')}, external ${d('external')} (ArrayBuffers ${d('arrayBuffers')})`);
    }
    if (r.storm) {
      const perPi = (cpuS: number) => `${cpuS.toFixed(1)} s (${((cpuS * 1000) / r.size).toFixed(2)} ms a Pi)`;
      const threads = r.storm.hubThreads.filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ');
      lines.push(`  ${r.label} restart, CPU until all back: hub ${perPi(r.storm.hubCpuS)} (${threads}), simulators ${perPi(r.storm.simCpuS)}; connections dropped by the kernel (accept queue full): ${r.storm.listenOverflows}`);
    }
    if (r.storm?.events.length) lines.push(`  ${r.label} restart, what the Pis logged: ${r.storm.events.map(([k, n]) => `${n}× ${k}`).join('; ')}`);
    for (const e of r.errors) lines.push(`  ${r.label}: ${e}`);
  }
  for (const sk of skipped) lines.push(`  note: ${sk}`);
  const hub = results.find((r) => r.contender === 'pi-hub');
  if (hub) {
    const t = [
      `per connection ≤ 50 KB: ${hub.perConnBytes <= 50 * 1024 ? 'PASS' : 'MISS'} (${kb(hub.perConnBytes)})`,
      hub.load ? `command p99 ≤ 15 ms (probe Pis): ${hub.load.probe.p99Ms <= 15 ? 'PASS' : 'MISS'} (${ms(hub.load.probe.p99Ms)})` : null,
      hub.storm ? `all back within 60 s of a restart: ${hub.storm.allBackS <= 60 ? 'PASS' : 'MISS'} (${s(hub.storm.allBackS)})` : null,
    ].filter(Boolean);
    lines.push(`  targets at ${n} Pis (issue 14 asks them at 10,000): ${t.join('; ')}`);
  }
  return lines.join('\n');
}
