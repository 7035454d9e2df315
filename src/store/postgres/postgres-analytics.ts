import type { Sketch } from "../../core/sketch.js";
import type { Lane, RequestStatus } from "../../core/types.js";
import {
  assertAligned,
  type RawRequestRow,
  type RollupRow,
  rollupLevel,
  SCOPE_COLUMNS,
  STATUS_COLUMNS,
  type StageRollupRow,
  type StageRun,
  seriesFromRollups,
  seriesFromRows,
  stagesFromRollups,
  stagesFromRuns,
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
import { type RequestLevel, STAGE_LEVELS } from "../rollup-levels.js";
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
    const grainMs = GRAIN_MS[grain];
    assertAligned(range, grainMs);
    const level = rollupLevel(grain, scope, options.sketches !== false);
    if (!level) return seriesFromRows(await this.rawRows(range, scope), grainMs);
    const sketches = options.sketches !== false && level.parts === "full";
    return seriesFromRollups(
      await this.rollupRows(level, range, scope, sketches),
      grainMs,
      mergeJson,
    );
  }

  async stageTotals(range: TimeRange, scope: StageScope): Promise<StageTotals[]> {
    assertAligned(range, GRAIN_MS.hour);
    if (scope.tenantId !== undefined && scope.kind !== undefined) {
      // No level keeps tenant and kind together: that tenant's runs of that kind, from rows.
      return stagesFromRuns(
        await this.sql.rows<StageRun>(
          `SELECT s.name, s.status, s.duration_ms AS "durationMs" FROM requests r
          JOIN stages s ON s.request_id = r.id
          WHERE r.tenant_id = $1 AND r.created_at >= $2 AND r.created_at < $3
          AND r.kind = $4 AND s.status IN ('completed', 'failed')`,
          [scope.tenantId, range.from, range.to, scope.kind],
        ),
      );
    }
    const tenant = scope.tenantId !== undefined;
    const filter = tenant ? "AND tenant = $4" : scope.kind !== undefined ? "AND kind = $4" : "";
    const values: unknown[] = [STAGE_LEVELS[tenant ? 0 : 1].id, range.from, range.to];
    if (filter !== "") values.push(tenant ? scope.tenantId : scope.kind);
    const rows = await this.sql.rows<StageRollupRow<JsonSketch>>(
      `SELECT stage, completed, failed, duration_sum, durations FROM rollup_stages
      WHERE level = $1 AND bucket >= $2 AND bucket < $3 ${filter}`,
      values,
    );
    return stagesFromRollups(rows, mergeJson);
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

function scopeWhere(range: TimeRange, scope: RequestScope) {
  const where = ["created_at >= $1", "created_at < $2"];
  const values: unknown[] = [range.from, range.to];
  for (const [key, column] of Object.entries(SCOPE_COLUMNS)) {
    const value = scope[key as keyof RequestScope];
    if (value === undefined) continue;
    values.push(value);
    where.push(`${column} = $${values.length}`);
  }
  return { where: where.join(" AND "), values };
}
