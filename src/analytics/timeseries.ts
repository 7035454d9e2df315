import {
  type AnalyticsStore,
  emptyTotals,
  GRAIN_MS,
  type Grain,
  type RequestTotals,
  type TimeRange,
} from "../store/analytics-store.js";
import { floorTo, hourWindow } from "./buckets.js";
import { percentiles, type StatusCounts, usd } from "./figures.js";

/** One bucket of a timeseries; buckets without requests are there too, with zeros. */
export interface TimeseriesPoint {
  start: Date;
  total: number;
  countsByStatus: StatusCounts;
  /** Durations of completed requests created in the bucket. */
  latencyMs: { p50: number | null; p95: number | null };
  costUsd: number;
}

/**
 * Requests per minute, hour or UTC day (seed 002's metrics in hourly buckets), over the last
 * `hours` hours with the current bucket last. Day buckets widen the window to whole days.
 */
export async function timeseries(
  store: AnalyticsStore,
  input: { hours: number; bucket: Grain; tenantId?: string | undefined },
  now: number,
): Promise<TimeseriesPoint[]> {
  const range = seriesRange(now, input.hours, input.bucket);
  const scope = input.tenantId !== undefined ? { tenantId: input.tenantId } : {};
  const found = new Map<number, RequestTotals>();
  for (const p of await store.requestSeries(range, input.bucket, scope))
    found.set(p.start, p.totals);
  const points: TimeseriesPoint[] = [];
  const step = GRAIN_MS[input.bucket];
  for (let start = range.from; start < range.to; start += step) {
    const totals = found.get(start) ?? emptyTotals();
    points.push({
      start: new Date(start),
      total: totals.requests,
      countsByStatus: totals.byStatus,
      latencyMs: percentiles(totals.latency, [50, 95]),
      costUsd: usd(totals.costMicros),
    });
  }
  return points;
}

/** The buckets a timeseries covers: the current one and those before it. */
export function seriesRange(now: number, hours: number, bucket: Grain): TimeRange {
  if (bucket === "hour") return hourWindow(now, hours);
  const step = GRAIN_MS[bucket];
  const to = floorTo(now, step) + step;
  const count = bucket === "minute" ? hours * 60 : Math.ceil(hours / 24);
  return { from: to - count * step, to };
}
