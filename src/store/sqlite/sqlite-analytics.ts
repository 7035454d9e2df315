import type Database from "better-sqlite3";
import type { Lane } from "../../core/types.js";
import {
  assertAligned,
  type RawRequestRow,
  type RollupRow,
  SCOPE_COLUMNS,
  STATUS_COLUMNS,
  type StageRollupRow,
  type StageRun,
  seriesFrom,
  seriesLevels,
  stageLevels,
  stagesFrom,
} from "../analytics-rows.js";
import {
  type AnalyticsStore,
  type CostScope,
  type CostTotals,
  GRAIN_MS,
  type Grain,
  type LiveCounts,
  type PromptCount,
  type RequestScope,
  type SeriesPoint,
  type StageScope,
  type StageTotals,
  type TimeRange,
} from "../analytics-store.js";
import { bucketEnd, rangeParts } from "../range-parts.js";
import type { RequestLevel, StageLevel } from "../rollup-levels.js";
import { SqliteCosts } from "./sqlite-costs.js";
import { prepared } from "./prepared.js";

// One tenant's rows through the (level, tenant, bucket) index, not a scan of every tenant's.
const BY_TENANT = "INDEXED BY rollup_requests_tenant";

/**
 * Stats queries on SQLite. Scopes the rollups cover (everything, a tenant, a kind, a tenant
 * and a kind, a source by day) read rollup rows: O(buckets). Users and channels, which are
 * too many to roll up, read their own rows through their indexes: O(their requests).
 */
export class SqliteAnalytics implements AnalyticsStore {
  private readonly costs: SqliteCosts;

  constructor(private readonly db: Database.Database) {
    this.costs = new SqliteCosts(db);
  }

  async requestSeries(
    range: TimeRange,
    grain: Grain,
    scope: RequestScope,
    options: { sketches?: boolean } = {},
  ): Promise<SeriesPoint[]> {
    return this.seriesNow(range, grain, scope, options.sketches !== false);
  }

  /** `requestSeries`, synchronously: for reads that must see the same state (a list's total). */
  seriesNow(range: TimeRange, grain: Grain, scope: RequestScope, sketches: boolean): SeriesPoint[] {
    const rollups: RollupRow<Buffer>[] = [];
    const rows: RawRequestRow[] = [];
    const levels = seriesLevels(grain, scope, sketches);
    for (const part of rangeParts(this.toBucketEnd(range, levels), levels)) {
      if (part.level === null) rows.push(...this.rawRows(part.range, scope));
      else {
        const full = sketches && part.level.parts === "full";
        rollups.push(...this.rollupRows(part.level, part.range, scope, full));
      }
    }
    return seriesFrom(rollups, rows, GRAIN_MS[grain], (sketch, bytes) => sketch.mergeBytes(bytes));
  }

  async stageTotals(range: TimeRange, scope: StageScope): Promise<StageTotals[]> {
    const rollups: StageRollupRow<Buffer>[] = [];
    const runs: StageRun[] = [];
    const levels = stageLevels(scope);
    for (const part of rangeParts(this.toBucketEnd(range, levels), levels)) {
      if (part.level === null) runs.push(...this.stageRuns(part.range, scope));
      else rollups.push(...this.stageRows(part.level, part.range, scope));
    }
    return stagesFrom(rollups, runs, (sketch, bytes) => sketch.mergeBytes(bytes));
  }

  /** `range`, ending at its finest bucket's end when no request lies between (bucketEnd). */
  private toBucketEnd(range: TimeRange, levels: readonly { grainMs: number }[]): TimeRange {
    const end = bucketEnd(range, levels);
    if (end === null) return range;
    const later = prepared(
      this.db,
      "SELECT 1 FROM requests WHERE created_at >= @from AND created_at < @to LIMIT 1",
    )
      .pluck()
      .get({ from: range.to, to: end });
    return later === undefined ? { from: range.from, to: end } : range;
  }

  async live(scope: { tenantId?: string }): Promise<LiveCounts> {
    // Kept by triggers (migration 25, live-counts.ts): a few rows, not every live request.
    const tenant = scope.tenantId !== undefined ? "WHERE tenant = @tenant" : "";
    const rows = prepared(
      this.db,
      `SELECT status, lane, sum(n) AS n FROM live_counts ${tenant} GROUP BY status, lane`,
    ).all(scope.tenantId !== undefined ? { tenant: scope.tenantId } : {}) as {
      status: "pending" | "running";
      lane: Lane;
      n: number;
    }[];
    const live: LiveCounts = { running: 0, pendingByLane: { high: 0, normal: 0, low: 0 } };
    for (const { status, lane, n } of rows) {
      if (status === "running") live.running += n;
      else live.pendingByLane[lane] += n;
    }
    return live;
  }

  async promptCounts(range: TimeRange, scope: RequestScope): Promise<PromptCount[]> {
    const { where, params } = scopeWhere(range, scope);
    // The tracker's rule for "the prompt": initialMessage, else a string input.prompt.
    return prepared(
      this.db,
      `SELECT prompt, count(*) AS count FROM (
      SELECT coalesce(initial_message, CASE WHEN json_type(input, '$.prompt') = 'text'
        THEN json_extract(input, '$.prompt') END) AS prompt
      FROM requests WHERE ${where} AND deleted_at IS NULL)
      WHERE prompt IS NOT NULL GROUP BY prompt`,
    ).all(params) as PromptCount[];
  }

  async costTotals(range: TimeRange, scope: CostScope, topSessions: number): Promise<CostTotals> {
    assertAligned(range, GRAIN_MS.day);
    return this.costs.totals(range, scope, topSessions);
  }

  private rollupRows(
    level: RequestLevel,
    range: TimeRange,
    scope: RequestScope,
    sketches: boolean,
  ): RollupRow<Buffer>[] {
    const filters = [
      level.tenant ? "AND tenant = @tenant" : "",
      scope.kind !== undefined && level.kind ? "AND kind = @kind" : "",
      scope.source !== undefined && level.source ? "AND source = @source" : "",
    ].join(" ");
    return prepared(
      this.db,
      `SELECT bucket, requests, ${STATUS_COLUMNS.join(", ")}, duration_sum,
      queue_count, queue_sum, cost_micros ${sketches ? ", latency, queue" : ""}
      FROM rollup_requests ${level.tenant ? BY_TENANT : ""}
      WHERE level = @level AND bucket >= @from AND bucket < @to ${filters}`,
    ).all({
      level: level.id,
      ...(level.tenant ? { tenant: scope.tenantId ?? "" } : {}),
      from: range.from,
      to: range.to,
      ...(filters.includes("@kind") ? { kind: scope.kind } : {}),
      ...(filters.includes("@source") ? { source: scope.source } : {}),
    }) as RollupRow<Buffer>[];
  }

  private stageRows(level: StageLevel, range: TimeRange, scope: StageScope) {
    const tenant = level.tenant;
    const kind = level.kind && scope.kind !== undefined;
    return prepared(
      this.db,
      `SELECT stage, completed, failed, duration_sum, durations FROM rollup_stages
      ${tenant ? "INDEXED BY rollup_stages_tenant" : ""}
      WHERE level = @level AND bucket >= @from AND bucket < @to
      ${tenant ? "AND tenant = @tenant" : ""} ${kind ? "AND kind = @kind" : ""}`,
    ).all({
      level: level.id,
      from: range.from,
      to: range.to,
      ...(tenant ? { tenant: scope.tenantId ?? "" } : {}),
      ...(kind ? { kind: scope.kind } : {}),
    }) as StageRollupRow<Buffer>[];
  }

  /** Finished stage runs of the requests created in `range`: what no stage level answers. */
  private stageRuns(range: TimeRange, scope: StageScope) {
    const { where, params } = scopeWhere(range, scope, "r.");
    return prepared(
      this.db,
      `SELECT s.name, s.status, s.duration_ms AS durationMs FROM requests r
      JOIN stages s ON s.request_id = r.id
      WHERE ${where} AND s.status IN ('completed', 'failed')`,
    ).all(params) as StageRun[];
  }

  private rawRows(range: TimeRange, scope: RequestScope) {
    const { where, params } = scopeWhere(range, scope);
    return prepared(
      this.db,
      `SELECT created_at AS createdAt, status, duration_ms AS durationMs,
      queue_ms AS queueMs, cost_micros AS costMicros FROM requests WHERE ${where}`,
    ).all(params) as RawRequestRow[];
  }
}

function scopeWhere(range: TimeRange, scope: RequestScope, alias = "") {
  const where = [`${alias}created_at >= @from`, `${alias}created_at < @to`];
  const params: Record<string, string | number> = { from: range.from, to: range.to };
  for (const [key, column] of Object.entries(SCOPE_COLUMNS)) {
    const value = scope[key as keyof RequestScope];
    if (value === undefined) continue;
    // Scope column first, so SQLite picks that column's (column, created_at) index.
    where.unshift(`${alias}${column} = @${key}`);
    params[key] = value;
  }
  return { where: where.join(" AND "), params };
}
