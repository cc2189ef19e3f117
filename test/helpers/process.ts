// The tests' child processes: harness/process.ts, shared with the bench.
export * from '../../harness/process.js';
