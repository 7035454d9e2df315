import type Database from "better-sqlite3";
import type { LifecycleState } from "../../core/lifecycle.js";
import type { NewRequest } from "../../core/ops.js";
import { mergeSketchBytes } from "../../core/sketch.js";
import type { RequestFacts } from "../analytics-store.js";
import {
  type Dims,
  lifecycleMoved,
  REQUEST_COUNTER_COLUMNS,
  RollupDeltas,
} from "../rollup-deltas.js";

/**
 * Dimensions of recently written requests, so most hooks need no read (FIFO-bounded). They
 * never change once a request exists; an id leaves the cache when this store hard-deletes it.
 */
const KNOWN_DIMS = 20_000;

/**
 * Keeps the rollup tables (migrations 10 and 11) in step with requests, stages and costs. The
 * writer calls a hook after each change it makes; a hook adds the change's contribution to
 * the deltas (a change is "take the old row out, put the new one in"), and `within` writes
 * them at the end of the same transaction, one upsert per touched rollup row. Ops in one
 * batch mostly share rows, so a batch costs a few upserts, not a few per op.
 */
export class SqliteRollups {
  private readonly deltas = new RollupDeltas();
  private readonly upsert: RollupUpserts;
  private readonly known = new Map<string, Dims>();
  private readonly selectDims: Database.Statement;
  private readonly selectRunningStages: Database.Statement;
  private readonly selectFacts: Database.Statement;
  private readonly selectFinishedStages: Database.Statement;
  private readonly selectCostsByService: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.upsert = new RollupUpserts(db);
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
    this.deltas.reset();
    try {
      const result = write();
      this.upsert.flush(this.deltas);
      return result;
    } finally {
      this.deltas.reset();
    }
  }

  /** After a request was inserted (not for a duplicate id). */
  requestCreated(r: NewRequest): void {
    const dims: Dims = {
      createdAt: r.createdAt,
      tenant: r.tenantId ?? "",
      kind: r.kind ?? "",
      source: r.source ?? "",
      session: r.sessionId,
    };
    this.remember(r.id, dims);
    this.deltas.addRequest(
      dims,
      { status: "pending", durationMs: null, queueMs: null, costMicros: 0 },
      1,
    );
    if (dims.session !== null) this.deltas.addSession(dims, 1, 0);
  }

  /** After a status change (or a terminal no-op that refreshed completedAt and durationMs). */
  requestChanged(id: string, before: LifecycleState, after: LifecycleState): void {
    if (!lifecycleMoved(before, after)) return;
    const dims = this.known.get(id) ?? dimsOf(before) ?? this.dims(id);
    if (dims) this.deltas.moveLifecycle(dims, before, after);
  }

  /** After a stage run ended; only completed and failed runs are counted. */
  stageFinished(id: string, stage: string, status: string, durationMs: number): void {
    if (status !== "completed" && status !== "failed") return;
    const dims = this.dims(id);
    if (dims) this.deltas.addStage(dims, stage, status, durationMs, 1);
  }

  /** Before the writer fails every running stage of `id` at `at` (the request ended). */
  runningStagesFailing(id: string, at: number): void {
    const running = this.selectRunningStages.all(id) as { name: string; startedAt: number }[];
    const dims = running.length > 0 ? this.dims(id) : null;
    if (!dims) return;
    for (const stage of running) {
      this.deltas.addStage(dims, stage.name, "failed", at - stage.startedAt, 1);
    }
  }

  /** After a cost was recorded on `id`. */
  costRecorded(id: string, service: string, micros: number): void {
    const dims = this.dims(id);
    if (dims) this.deltas.addCost(dims, service, micros);
  }

  /** After a recorded cost of `id` was repriced by `micros` (issue 15). */
  costRepriced(id: string, service: string, micros: number): void {
    const dims = this.dims(id);
    if (dims) this.deltas.addCostChange(dims, service, micros);
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
      this.addStored(id, row, -1);
    }
  }

  /**
   * Before a request's tenant or session changes (`setContext`): its whole contribution (the
   * request, its finished stages, its costs) leaves the old cells and joins the new ones.
   */
  requestMoved(id: string, tenantId: string | null, sessionId: string | null): void {
    const row = this.selectFacts.get(id) as (Dims & RequestFacts) | undefined;
    if (!row) return;
    const moved = { ...row, tenant: tenantId ?? "", session: sessionId };
    this.addStored(id, row, -1);
    this.addStored(id, moved, 1);
    const { createdAt, tenant, kind, source, session } = moved;
    this.remember(id, { createdAt, tenant, kind, source, session });
  }

  /** Adds (1) or takes out (-1) a stored request with its finished stages and costs. */
  private addStored(id: string, row: Dims & RequestFacts, sign: 1 | -1): void {
    this.deltas.addRequestRow(row, sign);
    for (const s of this.selectFinishedStages.all(id) as FinishedStage[]) {
      this.deltas.addStage(row, s.name, s.status, s.durationMs, sign);
    }
    for (const c of this.selectCostsByService.all(id) as ServiceSum[]) {
      this.deltas.addServiceCost(row, c.service, sign * c.n, sign * c.micros);
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
      for (const row of rows) this.deltas.addRequestRow(row, 1);
      last = rows[rows.length - 1]?.rowid ?? first;
      for (const s of stages.all(first, last) as (Dims & FinishedStage)[]) {
        this.deltas.addStage(s, s.name, s.status, s.durationMs, 1);
      }
      for (const c of costs.all(first, last) as (Dims & ServiceSum)[]) {
        this.deltas.addServiceCost(c, c.service, c.n, c.micros);
      }
      // Deltas are additive, so flushing page by page is exact and bounds memory.
      this.upsert.flush(this.deltas);
    }
    this.db.prepare("DELETE FROM rollup_state WHERE key = 'rebuild'").run();
  }

  /** True when migration 10 (or a repair) asked for a rebuild that has not run yet. */
  rebuildPending(): boolean {
    return this.db.prepare("SELECT 1 FROM rollup_state WHERE key = 'rebuild'").get() !== undefined;
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
}

/**
 * Writes a transaction's deltas with one upsert per touched rollup row. Sketches are merged
 * by the SQL function `reqtrack_sketch_merge`, registered here on the connection.
 */
class RollupUpserts {
  private readonly requests: Database.Statement;
  private readonly stages: Database.Statement;
  private readonly costs: Database.Statement;
  private readonly sessions: Database.Statement;

  constructor(db: Database.Database) {
    db.function("reqtrack_sketch_merge", { deterministic: true }, (a, b) =>
      mergeSketchBytes(a as Buffer | null, b as Buffer | null),
    );
    const merge = (column: string) =>
      `${column} = CASE WHEN excluded.${column} IS NULL THEN ${column}
        ELSE reqtrack_sketch_merge(${column}, excluded.${column}) END`;
    const add = (columns: readonly string[]) =>
      columns.map((c) => `${c} = ${c} + excluded.${c}`).join(", ");
    this.requests = db.prepare(`INSERT INTO rollup_requests (level, tenant, bucket, kind,
      source, ${REQUEST_COUNTER_COLUMNS.join(", ")}, latency, queue)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET ${add(REQUEST_COUNTER_COLUMNS)},
      ${merge("latency")}, ${merge("queue")}`);
    this.stages = db.prepare(`INSERT INTO rollup_stages (level, tenant, bucket, kind, stage,
      completed, failed, duration_sum, durations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET ${add(["completed", "failed", "duration_sum"])}, ${merge("durations")}`);
    this.costs = db.prepare(`INSERT INTO rollup_costs (level, tenant, bucket, service,
      records, cost_micros) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET ${add(["records", "cost_micros"])}`);
    this.sessions = db.prepare(`INSERT INTO rollup_sessions (bucket, tenant, session,
      requests, cost_micros) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET ${add(["requests", "cost_micros"])}`);
  }

  /** Writes every delta, then empties `deltas`. */
  flush(deltas: RollupDeltas): void {
    for (const r of deltas.requestRows()) {
      this.requests.run(
        r.level,
        r.tenant,
        r.bucket,
        r.kind,
        r.source,
        ...r.counters,
        r.latency?.toBytes() ?? null,
        r.queue?.toBytes() ?? null,
      );
    }
    for (const c of deltas.stageRows()) {
      this.stages.run(
        c.level,
        c.tenant,
        c.bucket,
        c.kind,
        c.stage,
        c.completed,
        c.failed,
        c.durationSum,
        c.durations.toBytes(),
      );
    }
    for (const c of deltas.costRows()) this.costs.run(...c.key, c.n, c.micros);
    for (const c of deltas.sessionRows()) this.sessions.run(...c.key, c.n, c.micros);
    deltas.reset();
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

/**
 * The dimensions a lifecycle read already carries (the writer selects them with the status),
 * so a transition needs no lookup of its own whatever the size of the backlog.
 */
function dimsOf(state: LifecycleState): Dims | null {
  const row = state as LifecycleState & {
    tenantId?: string | null;
    kind?: string | null;
    source?: string | null;
    sessionId?: string | null;
  };
  if (row.sessionId === undefined || row.source === undefined) return null;
  return {
    createdAt: row.createdAt,
    tenant: row.tenantId ?? "",
    kind: row.kind ?? "",
    source: row.source ?? "",
    session: row.sessionId ?? null,
  };
}
