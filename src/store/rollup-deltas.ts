import type { LifecycleState } from "../core/lifecycle.js";
import { Sketch } from "../core/sketch.js";
import {
  addRequest,
  emptyTotals,
  type RequestFacts,
  type RequestTotals,
} from "./analytics-store.js";
import {
  bucketOf,
  COST_LEVEL,
  REQUEST_LEVELS,
  type RequestLevel,
  STAGE_LEVELS,
} from "./rollup-levels.js";

/** The dimensions of a request; they never change after it is created. */
export interface Dims {
  createdAt: number;
  tenant: string;
  kind: string;
  source: string;
  session: string | null;
  /** Its request-cell keys, per level, once worked out. */
  keys?: string[];
}

interface RequestCell {
  level: RequestLevel;
  bucket: number;
  tenant: string;
  kind: string;
  source: string;
  totals: RequestTotals;
}

const DAY = 86_400_000;

/** One rollup_requests row's change. Sketches are null at "counts" levels. */
export interface RequestRowDelta {
  level: number;
  bucket: number;
  tenant: string;
  kind: string;
  source: string;
  /** requests, pending, running, completed, failed, timeout, cancelled, duration_sum,
   * queue_count, queue_sum, cost_micros: the rollup_requests counter columns, in order. */
  counters: number[];
  latency: Sketch | null;
  queue: Sketch | null;
}

/** One rollup_stages row's change. */
export interface StageRowDelta {
  level: number;
  bucket: number;
  tenant: string;
  kind: string;
  stage: string;
  completed: number;
  failed: number;
  durationSum: number;
  durations: Sketch;
}

/** One rollup_costs row ([level, tenant, bucket, service]) or rollup_sessions row
 * ([bucket, tenant, session]) change: n is records or requests. */
export interface SumRowDelta {
  key: (string | number)[];
  n: number;
  micros: number;
}

/** The rollup_requests counter columns, in `RequestRowDelta.counters` order. */
export const REQUEST_COUNTER_COLUMNS = [
  "requests",
  "pending",
  "running",
  "completed",
  "failed",
  "timeout",
  "cancelled",
  "duration_sum",
  "queue_count",
  "queue_sum",
  "cost_micros",
] as const;

/**
 * Changes to the rollup tables (rollup-levels.ts), summed in memory per rollup row while a
 * write transaction runs. The driver then writes them with one upsert per row (SQLite) or
 * one multi-row upsert per table (PostgreSQL), inside that transaction, and calls `reset`.
 * Both drivers share this class, so a request contributes the same figures on either.
 */
export class RollupDeltas {
  private requests = new Map<string, RequestCell>();
  private stages = new Map<string, StageRowDelta>();
  private costs = new Map<string, SumRowDelta>();
  private sessions = new Map<string, SumRowDelta>();

  /** Adds (sign 1) or takes back (sign -1) a request's contribution to every level. */
  addRequest(dims: Dims, facts: RequestFacts, sign: 1 | -1): void {
    for (let i = 0; i < REQUEST_LEVELS.length; i++) {
      addRequest(this.requestCell(i, dims).totals, facts, sign);
    }
  }

  /** A request went from `before` to `after`: it leaves one status cell for another. */
  moveLifecycle(dims: Dims, before: LifecycleFacts, after: LifecycleFacts): void {
    this.addRequest(dims, lifecycleFacts(before), -1);
    this.addRequest(dims, lifecycleFacts(after), 1);
  }

  /** A cost recorded on a request: its totals, its session and the service's row. */
  addCost(dims: Dims, service: string, micros: number): void {
    for (let i = 0; i < REQUEST_LEVELS.length; i++) {
      this.requestCell(i, dims).totals.costMicros += micros;
    }
    if (dims.session !== null) this.addSession(dims, 0, micros);
    this.addServiceCost(dims, service, 1, micros);
  }

  /** A recorded cost's amount changed by `micros` (reprice): the money moves, no record is added. */
  addCostChange(dims: Dims, service: string, micros: number): void {
    for (let i = 0; i < REQUEST_LEVELS.length; i++) {
      this.requestCell(i, dims).totals.costMicros += micros;
    }
    if (dims.session !== null) this.addSession(dims, 0, micros);
    this.addServiceCost(dims, service, 0, micros);
  }

  /** A whole stored request (for rebuilds and hard deletes), session included. */
  addRequestRow(row: Dims & RequestFacts, sign: 1 | -1): void {
    this.addRequest(row, row, sign);
    if (row.session !== null) this.addSession(row, sign, sign * row.costMicros);
  }

  /** Cost rows by service (the request totals and sessions hold the same money per request). */
  addServiceCost(dims: Dims, service: string, records: number, micros: number): void {
    const day = bucketOf(dims.createdAt, DAY);
    for (const [level, tenant] of [
      [COST_LEVEL.tenantDay, dims.tenant],
      [COST_LEVEL.allDay, ""],
    ] as const) {
      const cell = this.sumCell(this.costs, [level, tenant, day, service]);
      cell.n += records;
      cell.micros += micros;
    }
  }

  addSession(dims: Dims, requests: number, micros: number): void {
    const cell = this.sumCell(this.sessions, [
      bucketOf(dims.createdAt, DAY),
      dims.tenant,
      dims.session ?? "",
    ]);
    cell.n += requests;
    cell.micros += micros;
  }

  addStage(
    dims: Dims,
    stage: string,
    status: "completed" | "failed",
    durationMs: number,
    sign: 1 | -1,
  ): void {
    for (const level of STAGE_LEVELS) {
      const tenant = level.tenant ? dims.tenant : "";
      const kind = level.kind ? dims.kind : "";
      const bucket = bucketOf(dims.createdAt, level.grainMs);
      const key = `${level.id}:${bucket}:${tenant.length}:${tenant}${kind.length}:${kind}${stage}`;
      let cell = this.stages.get(key);
      if (!cell) {
        cell = {
          level: level.id,
          bucket,
          tenant,
          kind,
          stage,
          completed: 0,
          failed: 0,
          durationSum: 0,
          durations: new Sketch(),
        };
        this.stages.set(key, cell);
      }
      cell[status] += sign;
      cell.durationSum += sign * durationMs;
      cell.durations.add(durationMs, sign);
    }
  }

  /** True when no change is held. */
  get isEmpty(): boolean {
    return (
      this.requests.size === 0 &&
      this.stages.size === 0 &&
      this.costs.size === 0 &&
      this.sessions.size === 0
    );
  }

  /** The rollup_requests rows that change (rows whose every delta is zero are left out). */
  *requestRows(): Generator<RequestRowDelta> {
    for (const { level, bucket, tenant, kind, source, totals: t } of this.requests.values()) {
      const full = level.parts === "full";
      const s = t.byStatus;
      const counters = [
        t.requests,
        s.pending,
        s.running,
        s.completed,
        s.failed,
        s.timeout,
        s.cancelled,
        t.durationSumMs,
        full ? t.queueCount : 0,
        full ? t.queueSumMs : 0,
        t.costMicros,
      ];
      const latency = full && !t.latency.isEmpty ? t.latency : null;
      const queue = full && !t.queue.isEmpty ? t.queue : null;
      if (latency === null && queue === null && counters.every((n) => n === 0)) continue;
      yield { level: level.id, bucket, tenant, kind, source, counters, latency, queue };
    }
  }

  *stageRows(): Generator<StageRowDelta> {
    for (const c of this.stages.values()) {
      if (c.durations.isEmpty && c.completed === 0 && c.failed === 0 && c.durationSum === 0) {
        continue;
      }
      yield c;
    }
  }

  *costRows(): Generator<SumRowDelta> {
    for (const c of this.costs.values()) if (c.n !== 0 || c.micros !== 0) yield c;
  }

  *sessionRows(): Generator<SumRowDelta> {
    for (const c of this.sessions.values()) if (c.n !== 0 || c.micros !== 0) yield c;
  }

  /** Drops the deltas (the transaction they belong to did not commit). */
  reset(): void {
    if (this.requests.size > 0) this.requests = new Map();
    if (this.stages.size > 0) this.stages = new Map();
    if (this.costs.size > 0) this.costs = new Map();
    if (this.sessions.size > 0) this.sessions = new Map();
  }

  private requestCell(levelIndex: number, dims: Dims): RequestCell {
    const level = REQUEST_LEVELS[levelIndex] as RequestLevel;
    const keys = (dims.keys ??= []);
    let key = keys[levelIndex];
    if (key === undefined) {
      const { tenant, kind, source } = cellDims(level, dims);
      // Length prefixes keep keys unambiguous whatever characters the ids hold.
      key = `${level.id}:${bucketOf(dims.createdAt, level.grainMs)}:${tenant.length}:${tenant}${kind.length}:${kind}${source}`;
      keys[levelIndex] = key;
    }
    let cell = this.requests.get(key);
    if (!cell) {
      const bucket = bucketOf(dims.createdAt, level.grainMs);
      cell = { level, bucket, ...cellDims(level, dims), totals: emptyTotals() };
      this.requests.set(key, cell);
    }
    return cell;
  }

  private sumCell(cells: Map<string, SumRowDelta>, key: (string | number)[]): SumRowDelta {
    const id = key.map((part) => `${String(part).length}:${part}`).join("");
    let cell = cells.get(id);
    if (!cell) {
      cell = { key, n: 0, micros: 0 };
      cells.set(id, cell);
    }
    return cell;
  }
}

/** The dimensions `level` keeps; '' for the others. */
function cellDims(level: RequestLevel, dims: Dims) {
  return {
    tenant: level.tenant ? dims.tenant : "",
    kind: level.kind ? dims.kind : "",
    source: level.source ? dims.source : "",
  };
}

/** What the rollups count of a request's lifecycle. */
type LifecycleFacts = Pick<LifecycleState, "status" | "durationMs" | "queueMs">;

/**
 * Whether a change of lifecycle moves the request in the rollups, the rule of both drivers'
 * `requestChanged` hooks: only when its status, duration or queue time changed (a terminal
 * no-op that refreshed nothing they count moves nothing).
 */
export function lifecycleMoved(before: LifecycleFacts, after: LifecycleFacts): boolean {
  return (
    before.status !== after.status ||
    before.durationMs !== after.durationMs ||
    before.queueMs !== after.queueMs
  );
}

function lifecycleFacts(state: LifecycleFacts): RequestFacts {
  return {
    status: state.status,
    durationMs: state.durationMs,
    queueMs: state.queueMs,
    costMicros: 0,
  };
}
