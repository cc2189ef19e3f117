// A Pi's stats over time: the hub's history (a point a minute, an hour beyond 7 days), then every live
// sample appended as it arrives. uPlot draws on a canvas, so a chart costs the same at 10 points or
// 10,000; the page redraws at most once a frame, however fast samples come in.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Stats } from '../../../../shared/schemas.js';
import { api, type HistoryPoint } from '../api.js';
import type { LiveStore } from '../live.js';
import { messageOf } from '../ui.js';

interface Metric {
  title: string;
  unit: string;
  color: string;
  fromStats(s: Stats): number | null;
  fromPoint(p: HistoryPoint): number | null;
  range?: [number, number];
}

const METRICS: Metric[] = [
  { title: 'CPU', unit: ' %', color: '#2563eb', range: [0, 100], fromStats: (s) => s.cpu.load, fromPoint: (p) => p.load },
  { title: 'Temperature', unit: ' °C', color: '#dc2626', fromStats: (s) => s.cpu.tempC ?? null, fromPoint: (p) => p.tempC },
  {
    title: 'Memory used', unit: ' %', color: '#7c3aed', range: [0, 100],
    fromStats: (s) => (s.mem.total > 0 ? (s.mem.used / s.mem.total) * 100 : null),
    fromPoint: (p) => (p.memUsed !== null && p.memTotal ? (p.memUsed / p.memTotal) * 100 : null),
  },
];

const RANGES: Array<[string, number]> = [['1 hour', 3_600_000], ['24 hours', 86_400_000], ['7 days', 7 * 86_400_000]];
/** At most this many points per chart: live samples closer together replace the last one. */
const MAX_POINTS = 1500;
const HEIGHT = 150;

/** The charts' data, columnar as uPlot wants it: seconds, then one column per metric. */
class Series {
  xs: number[] = [];
  ys: Array<Array<number | null>> = METRICS.map(() => []);
  constructor(private readonly spanMs: number) {}

  add(tsMs: number, values: Array<number | null>): void {
    const x = tsMs / 1000;
    const last = this.xs.at(-1);
    if (last !== undefined && x < last) return; // older than what is shown: history arriving late
    // The last point follows the newest sample until it is a spacing past the one before it.
    const before = this.xs.at(-2);
    const replace = before !== undefined && (x - before) * 1000 < this.spanMs / MAX_POINTS;
    if (replace) this.xs[this.xs.length - 1] = x;
    else this.xs.push(x);
    values.forEach((v, i) => { if (replace) this.ys[i]![this.ys[i]!.length - 1] = v; else this.ys[i]!.push(v); });
    const from = x - this.spanMs / 1000;
    let drop = 0;
    while (drop < this.xs.length && this.xs[drop]! < from) drop++;
    if (drop > 0) { this.xs.splice(0, drop); for (const y of this.ys) y.splice(0, drop); }
  }

  data(i: number): uPlot.AlignedData { return [this.xs, this.ys[i]!]; }
}

export function StatsCharts({ serial, live }: { serial: string; live: LiveStore }) {
  const [span, setSpan] = useState(RANGES[0]![1]);
  const [error, setError] = useState<string | null>(null);
  const [empty, setEmpty] = useState(false);
  const boxes = useRef<Array<HTMLDivElement | null>>([]);
  const holder = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const series = new Series(span);
    const plots = METRICS.map((m, i) => new uPlot(options(m, boxes.current[i]!.clientWidth || 300), series.data(i), boxes.current[i]!));
    let frame = 0;
    const redraw = () => {
      frame = 0;
      plots.forEach((p, i) => p.setData(series.data(i)));
      holder.current?.setAttribute('data-points', String(series.xs.length));
      setEmpty(series.xs.length === 0);
    };
    const later = () => { if (!frame) frame = requestAnimationFrame(redraw); };
    const pending: Stats[] = [];
    let historyIn = false;
    const off = live.onStats((s, stats) => {
      if (s !== serial) return;
      if (!historyIn) { pending.push(stats); return; }
      series.add(stats.ts, METRICS.map((m) => m.fromStats(stats)));
      later();
    });
    const since = Date.now() - span;
    api.history(serial, since).then((points) => {
      for (const p of points) series.add(p.ts, METRICS.map((m) => m.fromPoint(p)));
      setError(null);
    }, (e: unknown) => setError(`No history: ${messageOf(e)}`)).finally(() => {
      historyIn = true;
      const latest = live.devices.get(serial)?.stats;
      if (latest && pending.length === 0 && latest.ts >= since) pending.push(latest);
      for (const stats of pending) series.add(stats.ts, METRICS.map((m) => m.fromStats(stats)));
      redraw();
    });
    const resize = new ResizeObserver(() => plots.forEach((p, i) => p.setSize({ width: boxes.current[i]?.clientWidth || 300, height: HEIGHT })));
    boxes.current.forEach((b) => b && resize.observe(b));
    return () => {
      off();
      resize.disconnect();
      if (frame) cancelAnimationFrame(frame);
      plots.forEach((p) => p.destroy());
    };
  }, [serial, span]);

  return html`
    <div class="chart-range" role="group" aria-label="Time range">
      ${RANGES.map(([label, ms]) => html`
        <button type="button" class=${`small ${ms === span ? '' : 'secondary'}`} aria-pressed=${ms === span} onClick=${() => setSpan(ms)}>${label}</button>`)}
    </div>
    ${error && html`<p class="muted small">${error}</p>`}
    ${empty && !error && html`<p class="muted small">No stats in this time yet: they appear as the Pi sends them.</p>`}
    <div class="charts" ref=${holder} data-points="0">
      ${METRICS.map((m, i) => html`
        <figure class="chart">
          <figcaption>${m.title}</figcaption>
          <div ref=${(el: HTMLDivElement | null) => { boxes.current[i] = el; }} role="img" aria-label=${`${m.title} over the last ${RANGES.find((r) => r[1] === span)![0]}`}></div>
        </figure>`)}
    </div>`;
}

const TIME = {
  seconds: new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
  minutes: new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' }),
  days: new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' }),
};

/** One line per tick, as fine as the ticks are apart (uPlot's default adds a second line with the date). */
function timeLabels(_u: uPlot, splits: number[], _axis: number, _space: number, incr: number): string[] {
  const f = incr >= 86_400 ? TIME.days : incr < 60 ? TIME.seconds : TIME.minutes;
  return splits.map((s) => f.format(new Date(s * 1000)));
}

function options(m: Metric, width: number): uPlot.Options {
  const axis = { stroke: '#64748b', grid: { stroke: '#e2e8f0', width: 1 }, ticks: { stroke: '#e2e8f0', width: 1 }, font: '11px system-ui, sans-serif' };
  return {
    width, height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: m.range ?? ((_u, min, max) => [Math.floor((min ?? 0) - 2), Math.ceil((max ?? 1) + 2)]) } },
    axes: [{ ...axis, values: timeLabels, space: 70 }, { ...axis, size: 58, values: (_u, vals) => vals.map((v) => `${+v.toFixed(1)}${m.unit}`) }],
    series: [{}, { label: m.title, stroke: m.color, width: 1.5, fill: `${m.color}1a`, points: { show: false }, spanGaps: false }],
  };
}
