import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { ApiError, api } from "./api";
import { localTime, utcTime } from "./format";

/** A time in the viewer's zone, with UTC on hover. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">–</span>;
  return (
    <time dateTime={iso} title={utcTime(iso)}>
      {localTime(iso)}
    </time>
  );
}

/** What to show when there is nothing yet, and what to do about it. */
export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

/** One figure with its label. */
export function Stat(props: { label: string; value: string; hint?: string; tone?: string }) {
  return (
    <div class={`stat ${props.tone ?? ""}`} title={props.hint}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value" data-stat={props.label}>
        {props.value}
      </div>
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  const message =
    error instanceof ApiError
      ? `${error.message} (${error.code})`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <div class="error" role="alert">
      {message}
    </div>
  );
}

export interface Fetched<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * GETs an API path and re-fetches when it changes; `refreshMs` polls (the figures pages
 * stay current without a reload). A stale answer never overwrites a newer one.
 */
export function useApi<T>(path: string | null, refreshMs?: number): Fetched<T> {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const generation = useRef(0);
  const load = useCallback(() => {
    if (path === null) return;
    const mine = ++generation.current;
    api<T>(path).then(
      (data) => mine === generation.current && setState({ data, error: null, loading: false }),
      (error: unknown) =>
        mine === generation.current && setState((s) => ({ ...s, error, loading: false })),
    );
  }, [path]);
  useEffect(() => {
    setState((s) => ({ ...s, loading: true }));
    load();
    if (!refreshMs) return;
    const timer = setInterval(load, refreshMs);
    return () => clearInterval(timer);
  }, [load, refreshMs]);
  return { ...state, reload: load };
}

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** Formats a value for the axis and legend. */
  format?: (v: number) => string;
}

/** A uPlot line chart over time (x in epoch seconds), sized to its container. */
export function Chart(props: { title: string; x: number[]; series: ChartSeries[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fmt = props.series[0]?.format ?? ((v: number) => String(v));
    const styles = getComputedStyle(document.documentElement);
    const axisColor = styles.getPropertyValue("--muted").trim() || "#888";
    const gridColor = styles.getPropertyValue("--grid").trim() || "#8883";
    const axis = {
      stroke: axisColor,
      grid: { stroke: gridColor, width: 1 },
      ticks: { stroke: gridColor, width: 1 },
    };
    const plot = new uPlot(
      {
        width: el.clientWidth || 400,
        height: 180,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [axis, { ...axis, size: 60, values: (_u, ticks) => ticks.map(fmt) }],
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            fill: `${s.color}22`,
            width: 2,
            // Sparse series (a quiet window) would draw nothing without their points.
            points: { show: s.values.filter((v) => v !== null).length < 40, size: 5 },
            value: (_u: uPlot, v: number | null) => (v === null ? "–" : (s.format ?? fmt)(v)),
          })),
        ],
      },
      [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const observer = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 180 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [props.x, props.series]);
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={box} />
    </figure>
  );
}

/** A status as a coloured pill. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge s-${status}`}>{status}</span>;
}
