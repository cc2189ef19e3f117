// Bench only, preloaded into a Node broker (`node --expose-gc --import mem-probe.js …`): on SIGUSR2 it
// collects garbage, then writes process.memoryUsage() as JSON to $PIFLEET_MEM_PROBE_FILE, and a heap
// snapshot into $PIFLEET_HEAP_SNAPSHOT_DIR when that is set. What a broker retains per connection is
// what survives a full collection; RSS alone mixes it with garbage not yet collected.
// With $PIFLEET_LOOP_LOG set it also appends one JSON line a second: the event loop's delay (max and
// p99) and the garbage collections' pauses in that second, to lay beside slow round trips
// (docs/BENCHMARKING.md, "Where the stalls come from").
// With $PIFLEET_ALLOC_PROFILE=FILE and $PIFLEET_ALLOC_PROFILE_AT=START,SECONDS it samples every
// allocation (garbage included: what makes the scavenges) from START seconds after the broker started,
// for SECONDS, and writes a .heapprofile (Chromium's DevTools open it) to FILE. With
// $PIFLEET_ALLOC_PROFILE_SURVIVORS=1 it leaves out what a scavenge collected: what is left is what lived
// long enough to be promoted (the old generation's growth), plus what is young when it stops.
import { appendFileSync, writeFileSync, renameSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';

const file = process.env.PIFLEET_MEM_PROBE_FILE;
if (file) {
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) { gc(); gc(); }
    const dir = process.env.PIFLEET_HEAP_SNAPSHOT_DIR;
    const snapshot = dir ? v8.writeHeapSnapshot(join(dir, `heap-${process.pid}-${Date.now()}.heapsnapshot`)) : null;
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...process.memoryUsage(), at: Date.now(), snapshot }));
    renameSync(`${file}.tmp`, file);
  });
}

const allocFile = process.env.PIFLEET_ALLOC_PROFILE;
if (allocFile) {
  const at = process.env.PIFLEET_ALLOC_PROFILE_AT ?? '30,20';
  const [startS, seconds] = at.split(',').map(Number);
  if (!(startS! >= 0 && seconds! > 0)) throw new Error(`PIFLEET_ALLOC_PROFILE_AT must be START,SECONDS (got ${JSON.stringify(at)})`);
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) =>
    session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  setTimeout(() => {
    void (async () => {
      await post('HeapProfiler.enable');
      await post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.PIFLEET_ALLOC_PROFILE_SURVIVORS !== '1' });
      await new Promise((r) => setTimeout(r, seconds! * 1000).unref());
      const { profile } = await post('HeapProfiler.stopSampling') as { profile: unknown };
      writeFileSync(allocFile, JSON.stringify(profile));
    })();
  }, startS! * 1000).unref();
}

const loopLog = process.env.PIFLEET_LOOP_LOG;
if (loopLog) {
  const KINDS: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  let gcs: Record<string, { n: number; ms: number; maxMs: number }> = {};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = KINDS[((e as { detail?: { kind?: number } }).detail)?.kind ?? -1] ?? 'other';
      const g = (gcs[kind] ??= { n: 0, ms: 0, maxMs: 0 });
      g.n++; g.ms += e.duration; g.maxMs = Math.max(g.maxMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  setInterval(() => {
    // pid: a restart's two hubs write into the same file, the old one while it closes its sessions.
    const line = { pid: process.pid, at: Date.now(), maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, heapMB: process.memoryUsage().heapUsed / 2 ** 20, gc: gcs };
    appendFileSync(loopLog, JSON.stringify(line) + '\n');
    h.reset();
    gcs = {};
  }, 1000).unref();
}
