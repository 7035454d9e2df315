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
