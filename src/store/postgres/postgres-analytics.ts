import type { Sketch } from "../../core/sketch.js";
import type { Lane, RequestStatus } from "../../core/types.js";
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
import type {
  AnalyticsStore,
  CostScope,
  CostTotals,
  Grain,
  LiveCounts,
  PromptCount,
  RequestScope,
  SeriesPoint,
  StageScope,
  StageTotals,
  TimeRange,
} from "../analytics-store.js";
import { GRAIN_MS } from "../analytics-store.js";
import { bucketEnd, rangeParts } from "../range-parts.js";
import type { RequestLevel, StageLevel } from "../rollup-levels.js";
import type { Sql } from "./pg-connection.js";
import { PostgresCosts } from "./postgres-costs.js";

/** A sketch as jsonb arrives: `{"<bucket key>": count}` (see Sketch.toJsonText). */
export type JsonSketch = Record<string, number>;

const mergeJson = (sketch: Sketch, stored: JsonSketch | null | undefined) => {
  sketch.mergeCounts(stored);
};

/**
 * Stats queries on PostgreSQL, the same plan as SqliteAnalytics: scopes the rollups cover
 * read rollup rows (O(buckets)); users and channels read their own rows through their
 * (column, created_at) indexes.
 */
export class PostgresAnalytics implements AnalyticsStore {
  private readonly costs: PostgresCosts;

  constructor(private readonly sql: Sql) {
    this.costs = new PostgresCosts(sql);
  }

  async requestSeries(
    range: TimeRange,
    grain: Grain,
    scope: RequestScope,
    options: { sketches?: boolean } = {},
  ): Promise<SeriesPoint[]> {
    const sketches = options.sketches !== false;
    const levels = seriesLevels(grain, scope, sketches);
    // The pieces are independent reads: the pool runs them side by side.
    const parts = await Promise.all(
      rangeParts(await this.toBucketEnd(range, levels), levels).map(async (part) =>
        part.level === null
          ? { rollups: [], rows: await this.rawRows(part.range, scope) }
          : {
              rollups: await this.rollupRows(
                part.level,
                part.range,
                scope,
                sketches && part.level.parts === "full",
              ),
              rows: [],
            },
      ),
    );
    return seriesFrom(
      parts.flatMap((p) => p.rollups),
      parts.flatMap((p) => p.rows),
      GRAIN_MS[grain],
      mergeJson,
    );
  }

  async stageTotals(range: TimeRange, scope: StageScope): Promise<StageTotals[]> {
    const levels = stageLevels(scope);
    const parts = await Promise.all(
      rangeParts(await this.toBucketEnd(range, levels), levels).map(async (part) =>
        part.level === null
          ? { rollups: [], runs: await this.stageRuns(part.range, scope) }
          : { rollups: await this.stageRows(part.level, part.range, scope), runs: [] },
      ),
    );
    return stagesFrom(
      parts.flatMap((p) => p.rollups),
      parts.flatMap((p) => p.runs),
      mergeJson,
    );
  }

  /** `range`, ending at its finest bucket's end when no request lies between (bucketEnd). */
  private async toBucketEnd(
    range: TimeRange,
    levels: readonly { grainMs: number }[],
  ): Promise<TimeRange> {
    const end = bucketEnd(range, levels);
    if (end === null) return range;
    const later = await this.sql.rows(
      "SELECT 1 FROM requests WHERE created_at >= $1 AND created_at < $2 LIMIT 1",
      [range.to, end],
    );
    return later.length === 0 ? { from: range.from, to: end } : range;
  }

  private stageRows(
    level: StageLevel,
    range: TimeRange,
    scope: StageScope,
  ): Promise<StageRollupRow<JsonSketch>[]> {
    const values: unknown[] = [level.id, range.from, range.to];
    const filters: string[] = [];
    if (level.tenant) {
      values.push(scope.tenantId ?? "");
      filters.push(`AND tenant = $${values.length}`);
    }
    if (level.kind && scope.kind !== undefined) {
      values.push(scope.kind);
      filters.push(`AND kind = $${values.length}`);
    }
    return this.sql.rows<StageRollupRow<JsonSketch>>(
      `SELECT stage, completed, failed, duration_sum, durations FROM rollup_stages
      WHERE level = $1 AND bucket >= $2 AND bucket < $3 ${filters.join(" ")}`,
      values,
    );
  }

  /** Finished stage runs of the requests created in `range`: what no stage level answers. */
  private stageRuns(range: TimeRange, scope: StageScope): Promise<StageRun[]> {
    const { where, values } = scopeWhere(range, scope, "r.");
    return this.sql.rows<StageRun>(
      `SELECT s.name, s.status, s.duration_ms AS "durationMs" FROM requests r
      JOIN stages s ON s.request_id = r.id
      WHERE ${where} AND s.status IN ('completed', 'failed')`,
      values,
    );
  }

  async live(scope: { tenantId?: string }): Promise<LiveCounts> {
    const tenant = scope.tenantId !== undefined ? "AND tenant_id = $1" : "";
    const values = scope.tenantId !== undefined ? [scope.tenantId] : [];
    const rows = await this.sql.rows<{ status: RequestStatus; lane: Lane; n: number }>(
      `SELECT status, lane, count(*) AS n FROM requests
      WHERE status IN ('running', 'pending') AND deleted_at IS NULL ${tenant}
      GROUP BY status, lane`,
      values,
    );
    const live: LiveCounts = { running: 0, pendingByLane: { high: 0, normal: 0, low: 0 } };
    for (const { status, lane, n } of rows) {
      if (status === "running") live.running += n;
      else live.pendingByLane[lane] = n;
    }
    return live;
  }

  async promptCounts(range: TimeRange, scope: RequestScope): Promise<PromptCount[]> {
    const { where, values } = scopeWhere(range, scope);
    // The tracker's rule for "the prompt": initialMessage, else a string input.prompt.
    // JSON columns are text (see migrations/postgres.ts); only rows with a prompt are cast.
    return this.sql.rows<PromptCount>(
      `SELECT prompt, count(*) AS count FROM (
      SELECT coalesce(initial_message, CASE WHEN input IS NOT NULL
        AND jsonb_typeof(input::jsonb -> 'prompt') = 'string'
        THEN input::jsonb ->> 'prompt' END) AS prompt
      FROM requests WHERE ${where} AND deleted_at IS NULL) AS p
      WHERE prompt IS NOT NULL GROUP BY prompt`,
      values,
    );
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
  ): Promise<RollupRow<JsonSketch>[]> {
    const values: unknown[] = [level.id, range.from, range.to];
    const filters: string[] = [];
    const filter = (column: string, value: unknown) => {
      values.push(value);
      filters.push(`AND ${column} = $${values.length}`);
    };
    if (level.tenant) filter("tenant", scope.tenantId ?? "");
    if (scope.kind !== undefined && level.kind) filter("kind", scope.kind);
    if (scope.source !== undefined && level.source) filter("source", scope.source);
    return this.sql.rows<RollupRow<JsonSketch>>(
      `SELECT bucket, requests, ${STATUS_COLUMNS.join(", ")}, duration_sum,
      queue_count, queue_sum, cost_micros ${sketches ? ", latency, queue" : ""}
      FROM rollup_requests
      WHERE level = $1 AND bucket >= $2 AND bucket < $3 ${filters.join(" ")}`,
      values,
    );
  }

  private rawRows(range: TimeRange, scope: RequestScope) {
    const { where, values } = scopeWhere(range, scope);
    return this.sql.rows<RawRequestRow>(
      `SELECT created_at AS "createdAt", status, duration_ms AS "durationMs",
      queue_ms AS "queueMs", cost_micros AS "costMicros" FROM requests WHERE ${where}`,
      values,
    );
  }
}

function scopeWhere(range: TimeRange, scope: RequestScope, alias = "") {
  const where = [`${alias}created_at >= $1`, `${alias}created_at < $2`];
  const values: unknown[] = [range.from, range.to];
  for (const [key, column] of Object.entries(SCOPE_COLUMNS)) {
    const value = scope[key as keyof RequestScope];
    if (value === undefined) continue;
    values.push(value);
    where.push(`${alias}${column} = $${values.length}`);
  }
  return { where: where.join(" AND "), values };
}
