import { NoAnalyticsError } from "../core/errors.js";
import { parse } from "../core/schemas.js";
import type { AnalyticsStore } from "../store/analytics-store.js";
import { type CostReport, costReport, type ReplayTotals } from "./costs.js";
import { type GroupStats, groupStats } from "./groups.js";
import { type Overview, overview } from "./overview.js";
import {
  type CostReportInput,
  costReportSchema,
  type GroupInput,
  groupSchema,
  type OverviewInput,
  overviewSchema,
  type StagesInput,
  stagesSchema,
  type TimeseriesInput,
  timeseriesSchema,
  toMs,
} from "./schemas.js";
import { type StageStats, stageBreakdown } from "./stages.js";
import { type TimeseriesPoint, timeseries } from "./timeseries.js";

/**
 * How the tracker runs a query: after its own pending writes are committed, timed, and
 * logged when slower than `slowQueryMs` (the same path as every other read).
 */
export type ReadQuery = <T>(
  type: string,
  paramCount: number,
  query: () => Promise<T>,
) => Promise<T>;

export interface AnalyticsContext {
  store: AnalyticsStore | undefined;
  clock: () => number;
  read: ReadQuery;
  /** Cost figures of replays alone, for reports that leave them out (or count only them). */
  replayTotals?: ReplayTotals;
}

/**
 * `tracker.stats`: dashboards from rollups, in milliseconds at a million requests.
 *
 * @example
 * const { countsByStatus, latencyMs, failureRatePct } = await tracker.stats.overview({ window: "24h" });
 */
export class Stats {
  constructor(private readonly context: AnalyticsContext) {}

  /** The window's counts, failure rate, latency and queue percentiles, cost; live counts. */
  async overview(input: OverviewInput = {}): Promise<Overview> {
    const data = parse(overviewSchema, input);
    return this.run("stats_overview", input, (store, now) => overview(store, data, now));
  }

  /** Per minute, hour or day: counts, latency p50/p95, cost. */
  async timeseries(input: TimeseriesInput = {}): Promise<TimeseriesPoint[]> {
    const data = parse(timeseriesSchema, input);
    return this.run("stats_timeseries", input, (store, now) => timeseries(store, data, now));
  }

  /** One tenant, channel, user, kind or source: counts, mean duration, top prompts, buckets. */
  async group(input: GroupInput): Promise<GroupStats> {
    const data = parse(groupSchema, input);
    const query = { ...data, from: toMs(data.from), to: toMs(data.to) };
    return this.run("stats_group", input, (store, now) => groupStats(store, query, now));
  }

  /** Per stage: runs, failure rate, p50/p95, share of the time; the bottleneck first. */
  async stages(input: StagesInput = {}): Promise<StageStats[]> {
    const data = parse(stagesSchema, input);
    return this.run("stats_stages", input, (store, now) => stageBreakdown(store, data, now));
  }

  private run<T>(
    type: string,
    input: object | undefined,
    query: (store: AnalyticsStore, now: number) => Promise<T>,
  ): Promise<T> {
    return runQuery(this.context, type, input, query);
  }
}

/** `tracker.costs`: cost reports, soft-deleted requests included. */
export class Costs {
  constructor(private readonly context: AnalyticsContext) {}

  /** Totals and breakdowns by service, operation, tenant and session over whole UTC days. */
  async report(input: CostReportInput = {}): Promise<CostReport> {
    const data = parse(costReportSchema, input);
    const query = { ...data, from: toMs(data.from), to: toMs(data.to) };
    return runQuery(this.context, "cost_report", input, (store, now) =>
      costReport(store, query, now, this.context.replayTotals),
    );
  }
}

function runQuery<T>(
  context: AnalyticsContext,
  type: string,
  input: object | undefined,
  query: (store: AnalyticsStore, now: number) => Promise<T>,
): Promise<T> {
  const store = context.store;
  if (!store) {
    return Promise.reject(new NoAnalyticsError());
  }
  const paramCount = Object.values(input ?? {}).filter((v) => v !== undefined).length;
  return context.read(type, paramCount, () => query(store, context.clock()));
}
