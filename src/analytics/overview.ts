import type { Lane } from "../core/types.js";
import { type AnalyticsStore, emptyTotals, mergeTotals } from "../store/analytics-store.js";
import { rollingWindow, windowHours } from "./buckets.js";
import { failureRatePct, percentiles, type StatusCounts, terminal, usd } from "./figures.js";

/** The overview: the window's requests, and what is live right now. */
export interface Overview {
  /** As asked, e.g. "24h". */
  window: string;
  /** The window: requests created from `from` (now minus the window) to `to` (now), both included. */
  from: Date;
  to: Date;
  /** Requests created in the window (soft-deleted ones included). */
  total: number;
  countsByStatus: StatusCounts;
  /** (failed + timeout) / terminal requests, in percent; null when none has ended. */
  failureRatePct: number | null;
  /** Durations of completed requests, each percentile within 1 %. */
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  /** Time from creation to start, of requests that started. */
  queueMs: { p50: number | null; p95: number | null };
  /** Terminal requests per minute of the window. */
  throughputPerMin: number;
  /** Running now (whenever created). */
  active: number;
  /** Pending now, per lane. */
  queueDepthByLane: Record<Lane, number>;
  costUsd: number;
}

/** Computes the overview for the `window` (an exact rolling window) ending at `now`. */
export async function overview(
  store: AnalyticsStore,
  input: { window: string; tenantId?: string | undefined },
  now: number,
): Promise<Overview> {
  const hours = windowHours(input.window);
  const range = rollingWindow(now, hours);
  const scope = input.tenantId !== undefined ? { tenantId: input.tenantId } : {};
  const [series, live] = await Promise.all([
    // Day grain: whole days from the day levels, the edges from hours and minutes; the same
    // totals as hourly points, from a few dozen rollup rows instead of 24 per day per kind.
    store.requestSeries(range, "day", scope),
    store.live(scope),
  ]);
  const totals = emptyTotals();
  for (const point of series) mergeTotals(totals, point.totals);
  return {
    window: input.window,
    from: new Date(range.from),
    to: new Date(now),
    total: totals.requests,
    countsByStatus: totals.byStatus,
    failureRatePct: failureRatePct(totals.byStatus),
    latencyMs: percentiles(totals.latency, [50, 95, 99]),
    queueMs: percentiles(totals.queue, [50, 95]),
    throughputPerMin: terminal(totals.byStatus) / (hours * 60),
    active: live.running,
    queueDepthByLane: live.pendingByLane,
    costUsd: usd(totals.costMicros),
  };
}
