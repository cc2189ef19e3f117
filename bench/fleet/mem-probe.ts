// Bench only, preloaded into a Node broker (`node --expose-gc --import mem-probe.js …`): on SIGUSR2 it
// collects garbage, then writes process.memoryUsage() as JSON to $PIFLEET_MEM_PROBE_FILE, and a heap
// snapshot into $PIFLEET_HEAP_SNAPSHOT_DIR when that is set. What a broker retains per connection is
// what survives a full collection; RSS alone mixes it with garbage not yet collected.
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
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
