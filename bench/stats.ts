// Order statistics over a handful of rounds or many latency samples. Pure.

export interface Summary { median: number; min: number; max: number; n: number }

/** The q-quantile (0..1) of ascending `sorted`, by the nearest-rank method. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length };
}

export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : Number.NaN;
}

/** 12345 → "12.3k", 950 → "950", 3.14159 → "3.14". */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 10_000) return `${(v / 1000).toFixed(1)}k`;
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function fmtSummary(s: Summary, unit = ''): string {
  if (s.n === 0) return '-';
  return s.n === 1 ? `${fmtNum(s.median)}${unit}` : `${fmtNum(s.median)}${unit} [${fmtNum(s.min)}–${fmtNum(s.max)}]`;
}
