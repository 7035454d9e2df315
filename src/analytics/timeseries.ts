import {
  type AnalyticsStore,
  emptyTotals,
  GRAIN_MS,
  type Grain,
  type RequestTotals,
} from "../store/analytics-store.js";
import { floorTo, rollingWindow } from "./buckets.js";
import { percentiles, type StatusCounts, usd } from "./figures.js";

/** One bucket of a timeseries; buckets without requests are there too, with zeros. */
export interface TimeseriesPoint {
  /** The bucket's start; the first point's is the window's start (its bucket is cut there). */
  start: Date;
  total: number;
  countsByStatus: StatusCounts;
  /** Durations of completed requests created in the bucket. */
  latencyMs: { p50: number | null; p95: number | null };
  costUsd: number;
}

/**
 * Requests per minute, hour or UTC day over the exact
 * rolling window of the last `hours` hours (see `rollingWindow`): whole buckets, except the
 * first, which starts where the window does, and the current one, which ends now. The points
 * therefore add up to the overview of the same window: a "24h" series at 12:20 has 25 points,
 * 12:20-13:00 yesterday first and 12:00-12:20 today last.
 */
export async function timeseries(
  store: AnalyticsStore,
  input: { hours: number; bucket: Grain; tenantId?: string | undefined },
  now: number,
): Promise<TimeseriesPoint[]> {
  const range = rollingWindow(now, input.hours);
  const scope = input.tenantId !== undefined ? { tenantId: input.tenantId } : {};
  const found = new Map<number, RequestTotals>();
  for (const p of await store.requestSeries(range, input.bucket, scope))
    found.set(p.start, p.totals);
  const points: TimeseriesPoint[] = [];
  const step = GRAIN_MS[input.bucket];
  for (let start = floorTo(range.from, step); start < range.to; start += step) {
    const totals = found.get(start) ?? emptyTotals();
    points.push({
      start: new Date(Math.max(start, range.from)),
      total: totals.requests,
      countsByStatus: totals.byStatus,
      latencyMs: percentiles(totals.latency, [50, 95]),
      costUsd: usd(totals.costMicros),
    });
  }
  return points;
}
