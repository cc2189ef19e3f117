// A monotonic clock in milliseconds for durations (commands, doctor checks). Not performance.now():
// the global `performance` loads node's perf_hooks on first use, about 0.8 MB that the daemon would
// hold for a timer (docs/BENCHMARKING.md). process.hrtime is always there.
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
