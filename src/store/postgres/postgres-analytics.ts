import { Sketch } from "../../core/sketch.js";
import type { Lane, RequestStatus } from "../../core/types.js";
import {
  assertAligned,
  type RollupRow,
  rollupLevel,
  SCOPE_COLUMNS,
  STATUS_COLUMNS,
  toTotals,
} from "../analytics-rows.js";
import {
  type AnalyticsStore,
  addRequest,
  type CostScope,
  type CostTotals,
  emptyTotals,
  GRAIN_MS,
  type Grain,
  type LiveCounts,
  mergeTotals,
  type PromptCount,
  type RequestScope,
  type RequestTotals,
  type SeriesPoint,
  type StageScope,
  type StageTotals,
  type TimeRange,
} from "../analytics-store.js";
import { bucketOf, type RequestLevel, STAGE_LEVELS } from "../rollup-levels.js";
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
    const points = new Map<number, RequestTotals>();
    const at = (ms: number) => {
      const start = bucketOf(ms, grainMs);
      let totals = points.get(start);
      if (!totals) points.set(start, (totals = emptyTotals()));
      return totals;
    };
    if (level) {
      const sketches = options.sketches !== false && level.parts === "full";
      for (const row of await this.rollupRows(level, range, scope, sketches)) {
        mergeTotals(at(row.bucket), toTotals(row, mergeJson));
      }
    } else {
      for (const row of await this.rawRows(range, scope)) addRequest(at(row.createdAt), row, 1);
    }
    return [...points.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([start, totals]) => ({ start, totals }));
  }

  async stageTotals(range: TimeRange, scope: StageScope): Promise<StageTotals[]> {
    assertAligned(range, GRAIN_MS.hour);
    const stages = new Map<string, StageTotals>();
    const totalsOf = (name: string) => {
      let totals = stages.get(name);
      if (!totals) {
        totals = { name, completed: 0, failed: 0, durationSumMs: 0, durations: new Sketch() };
        stages.set(name, totals);
      }
      return totals;
    };
    if (scope.tenantId !== undefined && scope.kind !== undefined) {
      // No level keeps tenant and kind together: that tenant's runs of that kind, from rows.
      const runs = await this.sql.rows<{
        name: string;
        status: "completed" | "failed";
        durationMs: number;
      }>(
        `SELECT s.name, s.status, s.duration_ms AS "durationMs" FROM requests r
        JOIN stages s ON s.request_id = r.id
        WHERE r.tenant_id = $1 AND r.created_at >= $2 AND r.created_at < $3
        AND r.kind = $4 AND s.status IN ('completed', 'failed')`,
        [scope.tenantId, range.from, range.to, scope.kind],
      );
      for (const run of runs) {
        const totals = totalsOf(run.name);
        totals[run.status] += 1;
        totals.durationSumMs += run.durationMs;
        totals.durations.add(run.durationMs);
      }
    } else {
      const tenant = scope.tenantId !== undefined;
      const filter = tenant ? "AND tenant = $4" : scope.kind !== undefined ? "AND kind = $4" : "";
      const values: unknown[] = [STAGE_LEVELS[tenant ? 0 : 1].id, range.from, range.to];
      if (filter !== "") values.push(tenant ? scope.tenantId : scope.kind);
      const rows = await this.sql.rows<{
        stage: string;
        completed: number;
        failed: number;
        duration_sum: number;
        durations: JsonSketch | null;
      }>(
        `SELECT stage, completed, failed, duration_sum, durations FROM rollup_stages
        WHERE level = $1 AND bucket >= $2 AND bucket < $3 ${filter}`,
        values,
      );
      for (const row of rows) {
        const totals = totalsOf(row.stage);
        totals.completed += row.completed;
        totals.failed += row.failed;
        totals.durationSumMs += row.duration_sum;
        totals.durations.mergeCounts(row.durations);
      }
    }
    return [...stages.values()].filter((s) => s.completed + s.failed > 0);
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
    return this.sql.rows<{
      createdAt: number;
      status: RequestStatus;
      durationMs: number | null;
      queueMs: number | null;
      costMicros: number;
    }>(
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
