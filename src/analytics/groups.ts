import {
  type AnalyticsStore,
  emptyTotals,
  mergeTotals,
  type PromptCount,
  type RequestScope,
  type RequestTotals,
} from "../store/analytics-store.js";
import { type CalendarBucket, calendarStart, calendarStarts } from "./buckets.js";
import { avgDurationMs, type StatusCounts, usd } from "./figures.js";
import { reportPeriod } from "./period.js";
import { topPrompts } from "./prompts.js";
import type { GroupBy } from "./schemas.js";

/** Statistics of one group (a guild, a tenant, a kind), overall and per calendar bucket. */
export interface GroupStats {
  by: GroupBy;
  value: string;
  bucket: CalendarBucket;
  /** The whole UTC days covered: [from, to). */
  from: Date;
  to: Date;
  total: number;
  countsByStatus: StatusCounts;
  /** Mean duration of completed requests; null when none completed. */
  avgDurationMs: number | null;
  costUsd: number;
  /** The 10 most common prompts, normalized (see `normalizePrompt`); soft-deleted requests left out. */
  topPrompts: PromptCount[];
  /** Every day, ISO week or month overlapping the period, oldest first (the first and last may be partial). */
  buckets: GroupBucket[];
}

export interface GroupBucket {
  start: Date;
  total: number;
  countsByStatus: StatusCounts;
  avgDurationMs: number | null;
  costUsd: number;
}

/** Group statistics by tenant, channel, user, kind or source. */
export async function groupStats(
  store: AnalyticsStore,
  input: { by: GroupBy; value: string; bucket: CalendarBucket; from?: number; to?: number },
  now: number,
): Promise<GroupStats> {
  const range = reportPeriod(input.from, input.to, now);
  const scope: RequestScope = { [input.by]: input.value };
  const [days, prompts] = await Promise.all([
    store.requestSeries(range, "day", scope, { sketches: false }),
    store.promptCounts(range, scope),
  ]);
  const perBucket = new Map<number, RequestTotals>();
  for (const day of days) {
    const start = calendarStart(day.start, input.bucket);
    const totals = perBucket.get(start) ?? emptyTotals();
    perBucket.set(start, mergeTotals(totals, day.totals));
  }
  const overall = emptyTotals();
  const buckets = calendarStarts(range, input.bucket).map((start) => {
    const totals = perBucket.get(start) ?? emptyTotals();
    mergeTotals(overall, totals);
    return { start: new Date(start), ...figures(totals) };
  });
  return {
    by: input.by,
    value: input.value,
    bucket: input.bucket,
    from: new Date(range.from),
    to: new Date(range.to),
    ...figures(overall),
    topPrompts: topPrompts(prompts, 10),
    buckets,
  };
}

function figures(totals: RequestTotals) {
  return {
    total: totals.requests,
    countsByStatus: totals.byStatus,
    avgDurationMs: avgDurationMs(totals),
    costUsd: usd(totals.costMicros),
  };
}
