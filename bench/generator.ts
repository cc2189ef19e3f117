// The load generator: a fresh child process per measured point (forked by run.ts, pinned to the
// generator's CPU), so no point inherits another's heap or sockets, and its own CPU time is exactly
// the point's. Receives one Job over IPC, answers with { ok, result } or { ok: false, error }.
import { type Job, runJob } from './workloads.js';

process.once('message', (job: Job) => {
  runJob(job).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: Error) => process.send!({ ok: false, error: err.message }, () => process.exit(0)),
  );
});
