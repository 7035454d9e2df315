import type { TimeRange } from "./analytics-store.js";

/** One piece of a range and what answers it: a rollup level's whole buckets, or the rows. */
export interface RangePart<L> {
  range: TimeRange;
  /** null: no level has buckets that fit, read the rows. */
  level: L | null;
}

/**
 * Splits [from, to) into pieces that each source answers exactly: whole buckets of the coarsest
 * level in the middle, the edges from the next finer level, and what no level's buckets fit
 * (less than the finest bucket at each end) from the rows. `levels` go coarse to fine.
 *
 * A 24 h window at 12:34:56 with hour and minute levels: 13:00 yesterday to 12:00 from hours,
 * 12:35 to 13:00 yesterday and 12:00 to 12:34 from minutes, the two part-minutes from rows. So
 * an exact rolling window reads O(buckets) rollup rows and at most two minutes of rows.
 */
export function rangeParts<L extends { grainMs: number }>(
  range: TimeRange,
  levels: readonly L[],
): RangePart<L>[] {
  if (range.from >= range.to) return [];
  const [level, ...finer] = levels;
  if (level === undefined) return [{ range, level: null }];
  const from = Math.ceil(range.from / level.grainMs) * level.grainMs;
  const to = Math.floor(range.to / level.grainMs) * level.grainMs;
  if (from >= to) return rangeParts(range, finer);
  return [
    ...rangeParts({ from: range.from, to: from }, finer),
    { range: { from, to }, level },
    ...rangeParts({ from: to, to: range.to }, finer),
  ];
}

/**
 * Where a range may end instead, so that its last part is a whole bucket of the finest level:
 * `range.to` rounded up to that level's grain, or null when it is already aligned or no level
 * answers. A window that ends now has its last part-bucket in the rows (at 800 requests/s, up
 * to 48,000 of them for the minute level); no request is created after now, so the bucket
 * holds exactly those rows. The driver checks that no row lies in [range.to, end) (a client
 * clock ahead could put one there; a window in the past has them) and only then reads
 * [range.from, end): the same requests, from the rollups.
 */
export function bucketEnd(range: TimeRange, levels: readonly { grainMs: number }[]): number | null {
  const finest = levels.at(-1);
  if (finest === undefined || range.from >= range.to) return null;
  const end = Math.ceil(range.to / finest.grainMs) * finest.grainMs;
  return end === range.to || !Number.isSafeInteger(end) ? null : end;
}
