import { ValidationError } from "../core/errors.js";
import { MAX_EPOCH_MS } from "../core/schemas.js";
import { GRAIN_MS, type TimeRange } from "../store/analytics-store.js";
import { dayRange } from "./buckets.js";

const DEFAULT_DAYS = 30;

/**
 * The longest report period. Reports build one bucket per day (or week, month) of it, so
 * an unbounded period is an unbounded answer: ten years keeps every report small.
 */
export const MAX_REPORT_DAYS = 3660;

/**
 * The whole UTC days a report covers: `from`'s day up to the end of `to`'s day. Without
 * `to`, up to the end of today; without `from`, the 30 days ending there.
 */
export function reportPeriod(
  from: number | undefined,
  to: number | undefined,
  now: number,
): TimeRange {
  if (from !== undefined && to !== undefined && from >= to) {
    throw new ValidationError("to", "must be after from");
  }
  const end = dayRange(to ?? now, to ?? now).to;
  const start = from !== undefined ? dayRange(from, from).from : end - DEFAULT_DAYS * GRAIN_MS.day;
  if (start >= end) throw new ValidationError("from", "must be before to");
  if (end - start > MAX_REPORT_DAYS * GRAIN_MS.day) {
    throw new ValidationError("from", `must be at most ${MAX_REPORT_DAYS} days before to`);
  }
  // The period ends at the end of `to`'s day, which must still be a date of years 0000-9999
  // (the answer's periodEnd is an ISO date-time): the last such day cannot be reported on.
  if (end > MAX_EPOCH_MS) {
    throw new ValidationError("to", `must be before ${new Date(end - GRAIN_MS.day).toISOString()}`);
  }
  return { from: start, to: end };
}
