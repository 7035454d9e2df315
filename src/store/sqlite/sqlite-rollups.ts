import type Database from "better-sqlite3";
import type { LifecycleState } from "../../core/lifecycle.js";
import type { NewRequest } from "../../core/ops.js";
import { mergeSketchBytes, Sketch } from "../../core/sketch.js";
import type { RequestStatus } from "../../core/types.js";
import {
  addRequest,
  emptyTotals,
  type RequestFacts,
  type RequestTotals,
} from "../analytics-store.js";
import {
  bucketOf,
  COST_LEVEL,
  REQUEST_LEVELS,
  type RequestLevel,
  STAGE_LEVELS,
} from "./rollup-levels.js";

/** The dimensions of a request; they never change after it is created. */
interface Dims {
  createdAt: number;
  tenant: string;
  kind: string;
  source: string;
  session: string | null;
  /** Its request-cell keys, per level, once worked out. */
  keys?: string[];
}

/** Dimensions of recently written requests, so most hooks need no read (FIFO-bounded). */
const KNOWN_DIMS = 20_000;

interface RequestCell {
  level: RequestLevel;
  bucket: number;
  tenant: string;
  kind: string;
  source: string;
  totals: RequestTotals;
}

interface StageCell {
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

/** [level, tenant, bucket, service] or [bucket, tenant, session] with their two sums. */
interface SumCell {
  key: (string | number)[];
  n: number;
  micros: number;
}

const DAY = 86_400_000;

/**
 * Keeps the rollup tables (migration 10) in step with requests, stages and costs. The writer
 * calls a hook after each change it makes; the hooks add the change's contribution to
 * in-memory deltas (a change is "take the old row out, put the new one in"), and `flush` adds
 * the deltas to the tables inside the same transaction, one upsert per touched rollup row.
 * Ops in one batch mostly share rows, so a batch costs a few upserts, not a few per op.
 */
export class SqliteRollups {
  private requests = new Map<string, RequestCell>();
  private stages = new Map<string, StageCell>();
  private costs = new Map<string, SumCell>();
  private sessions = new Map<string, SumCell>();
  private readonly known = new Map<string, Dims>();
  private readonly selectDims: Database.Statement;
  private readonly selectRunningStages: Database.Statement;
  private readonly selectFacts: Database.Statement;
  private readonly selectFinishedStages: Database.Statement;
  private readonly selectCostsByService: Database.Statement;
  private readonly upsertRequests: Database.Statement;
  private readonly upsertStages: Database.Statement;
  private readonly upsertCosts: Database.Statement;
  private readonly upsertSessions: Database.Statement;

  constructor(private readonly db: Database.Database) {
    db.function("reqtrack_sketch_merge", { deterministic: true }, (a, b) =>
      mergeSketchBytes(a as Buffer | null, b as Buffer | null),
    );
    const dims = `created_at AS createdAt, coalesce(tenant_id, '') AS tenant,
      coalesce(kind, '') AS kind, coalesce(source, '') AS source, session_id AS session`;
    this.selectDims = db.prepare(`SELECT ${dims} FROM requests WHERE id = ?`);
    this.selectFacts = db.prepare(`SELECT ${dims}, status, duration_ms AS durationMs,
      queue_ms AS queueMs, cost_micros AS costMicros FROM requests WHERE id = ?`);
    this.selectRunningStages = db.prepare(
      "SELECT name, started_at AS startedAt FROM stages WHERE request_id = ? AND status = 'running'",
    );
    this.selectFinishedStages = db.prepare(`SELECT name, status, duration_ms AS durationMs
      FROM stages WHERE request_id = ? AND status IN ('completed', 'failed')`);
    this.selectCostsByService = db.prepare(`SELECT service, count(*) AS n,
      sum(amount_micros) AS micros FROM costs WHERE request_id = ? GROUP BY service`);
    const merge = (column: string) =>
      `${column} = CASE WHEN excluded.${column} IS NULL THEN ${column}
        ELSE reqtrack_sketch_merge(${column}, excluded.${column}) END`;
    const add = (columns: string[]) => columns.map((c) => `${c} = ${c} + excluded.${c}`).join(", ");
    const counters = ["requests", "pending", "running", "completed", "failed", "timeout"];
    this.upsertRequests = db.prepare(`INSERT INTO rollup_requests (level, tenant, bucket, kind,
      source, requests, pending, running, completed, failed, timeout, cancelled, duration_sum,
      queue_count, queue_sum, cost_micros, latency, queue)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET ${add([...counters, "cancelled", "duration_sum", "queue_count", "queue_sum", "cost_micros"])},
      ${merge("latency")}, ${merge("queue")}`);
    this.upsertStages = db.prepare(`INSERT INTO rollup_stages (level, tenant, bucket, kind, stage,
      completed, failed, duration_sum, durations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET ${add(["completed", "failed", "duration_sum"])}, ${merge("durations")}`);
    this.upsertCosts = db.prepare(`INSERT INTO rollup_costs (level, tenant, bucket, service,
      records, cost_micros) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET ${add(["records", "cost_micros"])}`);
    this.upsertSessions = db.prepare(`INSERT INTO rollup_sessions (bucket, tenant, session,
      requests, cost_micros) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET ${add(["requests", "cost_micros"])}`);
    // Migration 10 leaves a marker so that rows written before the rollups existed count too;
    // the check inside the write lock keeps two processes from both rebuilding.
    if (this.rebuildPending()) {
      db.transaction(() => {
        if (this.rebuildPending()) this.rebuild();
      }).immediate();
    }
  }

  /**
   * Runs `write` (the body of a write transaction) and adds the deltas its hooks collected.
   * Must be called inside the transaction; deltas of a body that threw are dropped.
   */
  within<T>(write: () => T): T {
    this.reset();
    try {
      const result = write();
      this.flush();
      return result;
    } finally {
      this.reset();
    }
  }

  requestCreated(r: NewRequest): void {
    const dims: Dims = {
      createdAt: r.createdAt,
      tenant: r.tenantId ?? "",
      kind: r.kind ?? "",
      source: r.source ?? "",
      session: r.sessionId,
    };
    this.remember(r.id, dims);
    this.addFacts(dims, { status: "pending", durationMs: null, queueMs: null, costMicros: 0 }, 1);
    if (dims.session !== null) this.addSession(dims, 1, 0);
  }

  /** After a status change (or a terminal no-op that refreshed completedAt and durationMs). */
  requestChanged(id: string, before: LifecycleState, after: LifecycleState): void {
    if (
      before.status === after.status &&
      before.durationMs === after.durationMs &&
      before.queueMs === after.queueMs
    ) {
      return;
    }
    const dims = this.dims(id);
    if (!dims) return;
    this.addFacts(dims, lifecycleFacts(before), -1);
    this.addFacts(dims, lifecycleFacts(after), 1);
  }

  /** After a stage run ended; only completed and failed runs are counted. */
  stageFinished(id: string, stage: string, status: string, durationMs: number): void {
    if (status !== "completed" && status !== "failed") return;
    const dims = this.dims(id);
    if (dims) this.addStage(dims, stage, status, durationMs, 1);
  }

  /** Before the writer fails every running stage of `id` at `at` (the request ended). */
  runningStagesFailing(id: string, at: number): void {
    const running = this.selectRunningStages.all(id) as { name: string; startedAt: number }[];
    const dims = running.length > 0 ? this.dims(id) : null;
    if (!dims) return;
    for (const stage of running) this.addStage(dims, stage.name, "failed", at - stage.startedAt, 1);
  }

  costRecorded(id: string, service: string, micros: number): void {
    const dims = this.dims(id);
    if (!dims) return;
    for (let i = 0; i < REQUEST_LEVELS.length; i++) {
      this.requestCell(i, dims).totals.costMicros += micros;
    }
    if (dims.session !== null) this.addSession(dims, 0, micros);
    this.addServiceCost(dims, service, 1, micros);
  }

  /**
   * Before a hard delete (retention, cleanup): takes the requests, their finished stages and
   * their costs out of the rollups. Soft deletes change nothing: aggregates keep counting them.
   */
  forget(ids: readonly string[]): void {
    for (const id of ids) {
      const row = this.selectFacts.get(id) as (Dims & RequestFacts) | undefined;
      if (!row) continue;
      this.known.delete(id);
      this.addRequestRow(row, -1);
      for (const s of this.selectFinishedStages.all(id) as FinishedStage[]) {
        this.addStage(row, s.name, s.status, s.durationMs, -1);
      }
      for (const c of this.selectCostsByService.all(id) as ServiceSum[]) {
        this.addServiceCost(row, c.service, -c.n, -c.micros);
      }
    }
  }

  /**
   * Recomputes every rollup from the rows, a page of requests at a time (migration 10 asks
   * for it once, so databases created before the rollups get them). Runs in the caller's
   * transaction.
   */
  rebuild(): void {
    this.db.exec(`DELETE FROM rollup_requests; DELETE FROM rollup_stages;
      DELETE FROM rollup_costs; DELETE FROM rollup_sessions;`);
    const dims = `r.created_at AS createdAt, coalesce(r.tenant_id, '') AS tenant,
      coalesce(r.kind, '') AS kind, coalesce(r.source, '') AS source, r.session_id AS session`;
    const page = this.db.prepare(`SELECT r.rowid AS rowid, ${dims}, r.status,
      r.duration_ms AS durationMs, r.queue_ms AS queueMs, r.cost_micros AS costMicros
      FROM requests r WHERE r.rowid > ? ORDER BY r.rowid LIMIT 10000`);
    const stages = this.db.prepare(`SELECT ${dims}, s.name, s.status, s.duration_ms AS durationMs
      FROM requests r JOIN stages s ON s.request_id = r.id
      WHERE r.rowid BETWEEN ? AND ? AND s.status IN ('completed', 'failed')`);
    const costs = this.db.prepare(`SELECT ${dims}, c.service, count(*) AS n,
      sum(c.amount_micros) AS micros FROM requests r JOIN costs c ON c.request_id = r.id
      WHERE r.rowid BETWEEN ? AND ? GROUP BY r.id, c.service`);
    for (let last = Number.MIN_SAFE_INTEGER; ;) {
      const rows = page.all(last) as (Dims & RequestFacts & { rowid: number })[];
      const first = rows[0]?.rowid;
      if (first === undefined) break;
      for (const row of rows) this.addRequestRow(row, 1);
      last = rows[rows.length - 1]?.rowid ?? first;
      for (const s of stages.all(first, last) as (Dims & FinishedStage)[]) {
        this.addStage(s, s.name, s.status, s.durationMs, 1);
      }
      for (const c of costs.all(first, last) as (Dims & ServiceSum)[]) {
        this.addServiceCost(c, c.service, c.n, c.micros);
      }
      // Deltas are additive, so flushing page by page is exact and bounds memory.
      this.flush();
    }
    this.db.prepare("DELETE FROM rollup_state WHERE key = 'rebuild'").run();
  }

  /** True when migration 10 (or a repair) asked for a rebuild that has not run yet. */
  rebuildPending(): boolean {
    return this.db.prepare("SELECT 1 FROM rollup_state WHERE key = 'rebuild'").get() !== undefined;
  }

  private addRequestRow(row: Dims & RequestFacts, sign: 1 | -1): void {
    this.addFacts(row, row, sign);
    if (row.session !== null) this.addSession(row, sign, sign * row.costMicros);
  }

  private addFacts(dims: Dims, facts: RequestFacts, sign: 1 | -1): void {
    for (let i = 0; i < REQUEST_LEVELS.length; i++) {
      addRequest(this.requestCell(i, dims).totals, facts, sign);
    }
  }

  /** Cost rows by service (the request totals and sessions hold the same money per request). */
  private addServiceCost(dims: Dims, service: string, records: number, micros: number): void {
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

  private addSession(dims: Dims, requests: number, micros: number): void {
    const cell = this.sumCell(this.sessions, [
      bucketOf(dims.createdAt, DAY),
      dims.tenant,
      dims.session ?? "",
    ]);
    cell.n += requests;
    cell.micros += micros;
  }

  private addStage(
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

  private sumCell(cells: Map<string, SumCell>, key: (string | number)[]): SumCell {
    const id = key.map((part) => `${String(part).length}:${part}`).join("");
    let cell = cells.get(id);
    if (!cell) {
      cell = { key, n: 0, micros: 0 };
      cells.set(id, cell);
    }
    return cell;
  }

  private dims(id: string): Dims | null {
    const known = this.known.get(id);
    if (known) return known;
    const dims = this.selectDims.get(id) as Dims | undefined;
    if (dims) this.remember(id, dims);
    return dims ?? null;
  }

  private remember(id: string, dims: Dims): void {
    this.known.set(id, dims);
    if (this.known.size > KNOWN_DIMS) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
  }

  private flush(): void {
    for (const { level, bucket, tenant, kind, source, totals: t } of this.requests.values()) {
      const full = level.parts === "full";
      const s = t.byStatus;
      const row = [
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
      const latency = full ? t.latency.toBytes() : null;
      const queue = full ? t.queue.toBytes() : null;
      if (latency === null && queue === null && row.every((n) => n === 0)) continue;
      this.upsertRequests.run(level.id, tenant, bucket, kind, source, ...row, latency, queue);
    }
    for (const c of this.stages.values()) {
      const durations = c.durations.toBytes();
      if (durations === null && c.completed === 0 && c.failed === 0 && c.durationSum === 0)
        continue;
      this.upsertStages.run(
        c.level,
        c.tenant,
        c.bucket,
        c.kind,
        c.stage,
        c.completed,
        c.failed,
        c.durationSum,
        durations,
      );
    }
    for (const c of this.costs.values()) {
      if (c.n !== 0 || c.micros !== 0) this.upsertCosts.run(...c.key, c.n, c.micros);
    }
    for (const c of this.sessions.values()) {
      if (c.n !== 0 || c.micros !== 0) this.upsertSessions.run(...c.key, c.n, c.micros);
    }
    this.reset();
  }

  private reset(): void {
    if (this.requests.size > 0) this.requests = new Map();
    if (this.stages.size > 0) this.stages = new Map();
    if (this.costs.size > 0) this.costs = new Map();
    if (this.sessions.size > 0) this.sessions = new Map();
  }
}

interface FinishedStage {
  name: string;
  status: "completed" | "failed";
  durationMs: number;
}

interface ServiceSum {
  service: string;
  n: number;
  micros: number;
}

/** The dimensions `level` keeps; '' for the others. */
function cellDims(level: RequestLevel, dims: Dims) {
  return {
    tenant: level.tenant ? dims.tenant : "",
    kind: level.kind ? dims.kind : "",
    source: level.source ? dims.source : "",
  };
}

function lifecycleFacts(state: LifecycleState): RequestFacts {
  return {
    status: state.status as RequestStatus,
    durationMs: state.durationMs,
    queueMs: state.queueMs,
    costMicros: 0,
  };
}
