import type { Sketch } from "../core/sketch.js";
import type { RequestStatus } from "../core/types.js";
import type { RequestTotals } from "../store/analytics-store.js";

/** Requests per status; every status is present, zero when none. */
export type StatusCounts = Record<RequestStatus, number>;

/** Micro-USD to USD, once, at the edge: sums stay exact integers until here. */
export function usd(micros: number): number {
  return micros / 1_000_000;
}

/** Requests that reached an end: completed, failed, timeout or cancelled. */
export function terminal(counts: StatusCounts): number {
  return counts.completed + counts.failed + counts.timeout + counts.cancelled;
}

/** (failed + timeout) / terminal requests, in percent; null when none has ended. */
export function failureRatePct(counts: StatusCounts): number | null {
  const ended = terminal(counts);
  return ended === 0 ? null : ((counts.failed + counts.timeout) / ended) * 100;
}

/** Mean duration of completed requests; null when none completed. */
export function avgDurationMs(totals: RequestTotals): number | null {
  return totals.byStatus.completed === 0 ? null : totals.durationSumMs / totals.byStatus.completed;
}

/** Nearest-rank percentiles from a sketch, each within 1 % of the exact value. */
export function percentiles<P extends number>(
  sketch: Sketch,
  points: readonly P[],
): Record<`p${P}`, number | null> {
  const out = {} as Record<`p${P}`, number | null>;
  for (const p of points) out[`p${p}`] = sketch.percentile(p);
  return out;
}
