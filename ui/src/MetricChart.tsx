// Metric charts drawn with uPlot (made for large time series: 100,000 points paint in a few
// milliseconds). One chart per metric; several series (attempts, runs) overlaid on it,
// aligned by step with uPlot.join.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { S } from "./api";

export type MetricSeries = S["MetricSeriesOut"];

export interface Line {
  label: string;
  steps: number[];
  values: (number | null)[];
}

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

/** Lines aligned on one x axis (steps), as uPlot wants its data. */
export function align(lines: Line[]): uPlot.AlignedData {
  const tables: uPlot.AlignedData[] = lines.map((l) => {
    // uPlot needs x ascending: a task may log steps out of order
    const order = l.steps.map((_, i) => i);
    let sorted = true;
    for (let i = 1; i < l.steps.length; i++) if (l.steps[i] < l.steps[i - 1]) { sorted = false; break; }
    if (!sorted) order.sort((a, b) => l.steps[a] - l.steps[b]);
    return [order.map((i) => l.steps[i]), order.map((i) => l.values[i])] as uPlot.AlignedData;
  });
  if (tables.length === 1) return tables[0];
  return uPlot.join(tables);
}

export function MetricChart(props: { title: string; lines: Line[]; width?: number; height?: number; xLabel?: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = props.width ?? Math.max(320, el.clientWidth || 480);
    const opts: uPlot.Options = {
      title: props.title,
      width,
      height: props.height ?? 220,
      scales: { x: { time: false } },
      // when it was first drawn (ms since navigation): read by the console benchmark
      hooks: { draw: [() => { if (!el.dataset.paintedAt) el.dataset.paintedAt = String(performance.now()); }] },
      axes: [{ label: props.xLabel ?? "step" }, {}],
      series: [
        { label: props.xLabel ?? "step" },
        ...props.lines.map((l, i) => ({
          label: l.label,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: false,
          points: { show: l.steps.length < 50 },
        })),
      ],
    };
    const chart = new uPlot(opts, align(props.lines), el);
    el.dataset.points = String(props.lines.reduce((n, l) => n + l.values.length, 0));
    el.dataset.series = String(props.lines.length);
    return () => chart.destroy();
  }, [props.title, props.lines, props.width, props.height, props.xLabel]);
  return <div class="metric-chart" data-metric={props.title} ref={box} />;
}

/** Series grouped by metric name, in name order. */
export function byName(items: MetricSeries[]): [string, MetricSeries[]][] {
  const out = new Map<string, MetricSeries[]>();
  for (const s of items) {
    const list = out.get(s.name) ?? [];
    list.push(s);
    out.set(s.name, list);
  }
  return [...out.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
