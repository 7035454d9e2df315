import { Sketch } from "../core/sketch.js";
import type { RequestStatus } from "../core/types.js";
import {
  addRequest,
  type CostTotals,
  emptyTotals,
  type Grain,
  mergeTotals,
  type RequestFacts,
  type RequestScope,
  type RequestTotals,
  type SeriesPoint,
  type StageScope,
  type StageTotals,
  type TimeRange,
} from "./analytics-store.js";
import {
  bucketOf,
  LEVEL,
  type RequestLevel,
  STAGE_LEVEL,
  type StageLevel,
} from "./rollup-levels.js";

/**
 * What the SQLite and PostgreSQL analytics drivers share: which rollup level answers a
 * query, and how rollup rows become aggregates. Only their SQL and the way each stores a
 * sketch (packed blob, jsonb) differ.
 */

/** A rollup_requests row as both drivers select it; `S` is how the driver stores sketches. */
export interface RollupRow<S> {
  bucket: number;
  requests: number;
  pending: number;
  running: number;
  completed: number;
  failed: number;
  timeout: number;
  cancelled: number;
  duration_sum: number;
  queue_count: number;
  queue_sum: number;
  cost_micros: number;
  latency?: S | null;
  queue?: S | null;
}

/** Columns a raw-row filter may use, with the index that serves it. */
export const SCOPE_COLUMNS = {
  tenantId: "tenant_id",
  kind: "kind",
  source: "source",
  userId: "user_id",
  channelId: "channel_id",
} as const satisfies Record<keyof RequestScope, string>;

export const STATUS_COLUMNS = [
  "pending",
  "running",
  "completed",
  "failed",
  "timeout",
  "cancelled",
] as const satisfies readonly RequestStatus[];

/**
 * The rollup level that answers `scope` at `grain`, or null when only the rows can: users and
 * channels, minutes of one tenant or kind, and mixes of dimensions no level keeps together.
 */
export function rollupLevel(
  grain: Grain,
  scope: RequestScope,
  sketches: boolean,
): RequestLevel | null {
  const { tenantId, kind, source } = scope;
  if (scope.userId !== undefined || scope.channelId !== undefined) return null;
  if (source !== undefined) {
    const days = grain === "day" && !sketches;
    return days && tenantId === undefined && kind === undefined ? LEVEL.sourceDay : null;
  }
  if (tenantId !== undefined && kind !== undefined) {
    return grain === "day" && !sketches ? LEVEL.tenantKindDay : null;
  }
  if (tenantId !== undefined) {
    return grain === "day" ? LEVEL.tenantDay : grain === "hour" ? LEVEL.tenantHour : null;
  }
  if (kind !== undefined) return grain === "minute" ? null : LEVEL.kindHour;
  return grain === "day" ? LEVEL.allDay : grain === "hour" ? LEVEL.kindHour : LEVEL.minute;
}

const GRAINS_FROM: Readonly<Record<Grain, readonly Grain[]>> = {
  day: ["day", "hour", "minute"],
  hour: ["hour", "minute"],
  minute: ["minute"],
};

/**
 * The levels that answer `scope` at `grain` and finer, coarse to fine: `rangeParts` reads the
 * middle of a range from the first and its edges from the next, so any range is exact (the
 * rows answer what no level fits). Empty when only the rows can answer.
 */
export function seriesLevels(grain: Grain, scope: RequestScope, sketches: boolean): RequestLevel[] {
  const levels: RequestLevel[] = [];
  for (const g of GRAINS_FROM[grain]) {
    const level = rollupLevel(g, scope, sketches);
    if (level && !levels.includes(level)) levels.push(level);
  }
  return levels.sort((a, b) => b.grainMs - a.grainMs);
}

/** The stage levels that answer `scope`, coarse to fine; tenant and kind together: none. */
export function stageLevels(scope: StageScope): StageLevel[] {
  if (scope.tenantId !== undefined) {
    return scope.kind !== undefined ? [] : [STAGE_LEVEL.tenantHour];
  }
  return [STAGE_LEVEL.kindHour, STAGE_LEVEL.kindMinute];
}

/** A rollup row's aggregates; `mergeSketch` adds a stored sketch into a `Sketch`. */
export function toTotals<S>(
  row: RollupRow<S>,
  mergeSketch: (into: Sketch, stored: S | null | undefined) => void,
): RequestTotals {
  const totals = emptyTotals();
  totals.requests = row.requests;
  for (const status of STATUS_COLUMNS) totals.byStatus[status] = row[status];
  totals.durationSumMs = row.duration_sum;
  totals.queueCount = row.queue_count;
  totals.queueSumMs = row.queue_sum;
  totals.costMicros = row.cost_micros;
  mergeSketch(totals.latency, row.latency);
  mergeSketch(totals.queue, row.queue);
  return totals;
}

export function assertAligned(range: TimeRange, grainMs: number): void {
  if (range.from % grainMs !== 0 || range.to % grainMs !== 0 || range.from > range.to) {
    throw new RangeError(`range ${range.from}..${range.to} is not whole ${grainMs} ms buckets`);
  }
}

/** One line of a cost breakdown by kind or by tenant, as summed from rollups or rows. */
export interface Breakdown {
  key: string | null;
  requests: number;
  costMicros: number;
}

/** The cost report's figures from its breakdowns; totals are the sums of the kind lines. */
export function assembleCosts(
  byKind: Breakdown[],
  byTenant: Breakdown[],
  byService: CostTotals["byService"],
  topSessions: CostTotals["topSessions"],
  otherSessions: CostTotals["otherSessions"],
): CostTotals {
  // Rollup rows use '' for "none"; raw rows use null.
  const none = (key: string | null) => (key === "" ? null : key);
  return {
    requests: sum(byKind, "requests"),
    costMicros: sum(byKind, "costMicros"),
    byService,
    byKind: byKind.map((b) => ({
      kind: none(b.key),
      requests: b.requests,
      costMicros: b.costMicros,
    })),
    byTenant: byTenant.map((b) => ({
      tenantId: none(b.key),
      requests: b.requests,
      costMicros: b.costMicros,
    })),
    topSessions,
    otherSessions,
  };
}

/** Sessions beyond the top ones, from the totals over all sessions. */
export function otherSessions(
  all: { sessions: number; requests: number; costMicros: number },
  top: CostTotals["topSessions"],
): CostTotals["otherSessions"] {
  return {
    sessions: all.sessions - top.length,
    requests: all.requests - sum(top, "requests"),
    costMicros: all.costMicros - sum(top, "costMicros"),
  };
}

/** Groups one session's per-(kind, tenant) sums by kind or by tenant. */
export function groupSessionRows(
  rows: readonly {
    kind: string | null;
    tenant: string | null;
    requests: number;
    costMicros: number;
  }[],
  key: "kind" | "tenant",
): Breakdown[] {
  const out = new Map<string | null, Breakdown>();
  for (const row of rows) {
    const entry = out.get(row[key]) ?? { key: row[key], requests: 0, costMicros: 0 };
    entry.requests += row.requests;
    entry.costMicros += row.costMicros;
    out.set(row[key], entry);
  }
  return [...out.values()];
}

export function sum<K extends string>(rows: readonly Record<K, number>[], key: K): number {
  let total = 0;
  for (const row of rows) total += row[key];
  return total;
}

/** A request's aggregate columns, as drivers read them from its row. */
export interface RawRequestRow extends RequestFacts {
  createdAt: number;
}

/** A finished stage run, as drivers read it from its row. */
export interface StageRun {
  name: string;
  status: "completed" | "failed";
  durationMs: number;
}

/** A rollup_stages row; `S` is how the driver stores sketches. */
export interface StageRollupRow<S> {
  stage: string;
  completed: number;
  failed: number;
  duration_sum: number;
  durations: S | null;
}

type SketchMerger<S> = (into: Sketch, stored: S | null | undefined) => void;

/**
 * Series points (buckets of `grainMs`, in time order) from rollup rows of any finer or equal
 * grain and from request rows: each adds into the bucket holding its time.
 */
export function seriesFrom<S>(
  rollups: readonly RollupRow<S>[],
  rows: readonly RawRequestRow[],
  grainMs: number,
  mergeSketch: SketchMerger<S>,
): SeriesPoint[] {
  return series(grainMs, (at) => {
    for (const row of rollups) mergeTotals(at(row.bucket), toTotals(row, mergeSketch));
    for (const row of rows) addRequest(at(row.createdAt), row, 1);
  });
}

function series(grainMs: number, fill: (at: (ms: number) => RequestTotals) => void): SeriesPoint[] {
  const points = new Map<number, RequestTotals>();
  fill((ms) => {
    const start = bucketOf(ms, grainMs);
    let totals = points.get(start);
    if (!totals) points.set(start, (totals = emptyTotals()));
    return totals;
  });
  return [...points.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([start, totals]) => ({ start, totals }));
}

/** Per stage name, from rollup_stages rows and from single runs. */
export function stagesFrom<S>(
  rollups: readonly StageRollupRow<S>[],
  runs: readonly StageRun[],
  mergeSketch: SketchMerger<S>,
): StageTotals[] {
  return stages((of) => {
    for (const row of rollups) {
      const totals = of(row.stage);
      totals.completed += row.completed;
      totals.failed += row.failed;
      totals.durationSumMs += row.duration_sum;
      mergeSketch(totals.durations, row.durations);
    }
    for (const run of runs) {
      const totals = of(run.name);
      totals[run.status] += 1;
      totals.durationSumMs += run.durationMs;
      totals.durations.add(run.durationMs);
    }
  });
}

/** The stages that had finished runs. */
function stages(fill: (of: (name: string) => StageTotals) => void): StageTotals[] {
  const byName = new Map<string, StageTotals>();
  fill((name) => {
    let totals = byName.get(name);
    if (!totals) {
      totals = { name, completed: 0, failed: 0, durationSumMs: 0, durations: new Sketch() };
      byName.set(name, totals);
    }
    return totals;
  });
  return [...byName.values()].filter((s) => s.completed + s.failed > 0);
}
