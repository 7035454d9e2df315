import type { LifecycleState } from "../../core/lifecycle.js";
import type { NewRequest } from "../../core/ops.js";
import type { RequestFacts } from "../analytics-store.js";
import {
  type Dims,
  lifecycleMoved,
  REQUEST_COUNTER_COLUMNS,
  RollupDeltas,
  type SumRowDelta,
} from "../rollup-deltas.js";
import type { Sql } from "./pg-connection.js";

/** What the writer's reads of a request already carry, from which its dimensions follow. */
export interface DimsRow {
  createdAt: number;
  tenantId: string | null;
  kind: string | null;
  source: string | null;
  sessionId: string | null;
}

/** A stage run that ended, with how long it ran. */
export interface EndedStage {
  name: string;
  durationMs: number;
}

const add = (columns: readonly string[], table: string) =>
  columns.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(", ");
const merge = (column: string, table: string) =>
  `${column} = CASE WHEN excluded.${column} IS NULL THEN ${table}.${column}
    ELSE reqtrack_sketch_merge(${table}.${column}, excluded.${column}) END`;

// One statement per table whatever the batch holds: the deltas go in as arrays and come out
// of unnest() as rows. They are sorted by key first, so that two servers flushing at once
// lock shared rollup rows in the same order and cannot deadlock on them.
const UPSERT_REQUESTS = `INSERT INTO rollup_requests (level, bucket, tenant, kind, source,
  ${REQUEST_COUNTER_COLUMNS.join(", ")}, latency, queue)
  SELECT level, bucket, tenant, kind, source, ${REQUEST_COUNTER_COLUMNS.join(", ")},
  latency::jsonb, queue::jsonb
  FROM unnest($1::int2[], $2::int8[], $3::text[], $4::text[], $5::text[],
  ${REQUEST_COUNTER_COLUMNS.map((_, i) => `$${i + 6}::int8[]`).join(", ")},
  $17::text[], $18::text[]) AS d(level, bucket, tenant, kind, source,
  ${REQUEST_COUNTER_COLUMNS.join(", ")}, latency, queue)
  ON CONFLICT (level, bucket, tenant, kind, source) DO UPDATE SET
  ${add(REQUEST_COUNTER_COLUMNS, "rollup_requests")},
  ${merge("latency", "rollup_requests")}, ${merge("queue", "rollup_requests")}`;

const UPSERT_STAGES = `INSERT INTO rollup_stages (level, bucket, tenant, kind, stage,
  completed, failed, duration_sum, durations)
  SELECT level, bucket, tenant, kind, stage, completed, failed, duration_sum, durations::jsonb
  FROM unnest($1::int2[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int8[],
  $7::int8[], $8::int8[], $9::text[]) AS d(level, bucket, tenant, kind, stage, completed,
  failed, duration_sum, durations)
  ON CONFLICT (level, bucket, tenant, kind, stage) DO UPDATE SET
  ${add(["completed", "failed", "duration_sum"], "rollup_stages")},
  ${merge("durations", "rollup_stages")}`;

const UPSERT_COSTS = `INSERT INTO rollup_costs (level, tenant, bucket, service, records,
  cost_micros)
  SELECT * FROM unnest($1::int2[], $2::text[], $3::int8[], $4::text[], $5::int8[], $6::int8[])
  ON CONFLICT (level, bucket, tenant, service) DO UPDATE SET
  ${add(["records", "cost_micros"], "rollup_costs")}`;

const UPSERT_SESSIONS = `INSERT INTO rollup_sessions (bucket, tenant, session, requests,
  cost_micros)
  SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[])
  ON CONFLICT (bucket, tenant, session) DO UPDATE SET
  ${add(["requests", "cost_micros"], "rollup_sessions")}`;

/** The rollup upserts with how many parameters (columns) each takes, in `takeParams` order. */
export const ROLLUP_UPSERTS: readonly (readonly [string, number])[] = [
  [UPSERT_REQUESTS, 5 + REQUEST_COUNTER_COLUMNS.length + 2],
  [UPSERT_STAGES, 9],
  [UPSERT_COSTS, 6],
  [UPSERT_SESSIONS, 5],
];

const REBUILD_PAGE = 5000;

/**
 * Keeps the rollup tables (migrations 10 and 11) in step with requests, stages and costs on
 * PostgreSQL, as SqliteRollups does on SQLite and with the same `RollupDeltas`: the writer
 * reports each change with the request's dimensions (which its own reads already carry, so
 * the rollups cost no extra reads), and `flush` writes the batch's deltas at the end of its
 * transaction, one multi-row upsert per rollup table.
 */
export class PostgresRollups {
  private readonly deltas = new RollupDeltas();

  constructor(private readonly sql: Sql) {}

  /** After a request was inserted (not for a duplicate id). */
  requestCreated(r: NewRequest): void {
    const dims: Dims = {
      createdAt: r.createdAt,
      tenant: r.tenantId ?? "",
      kind: r.kind ?? "",
      source: r.source ?? "",
      session: r.sessionId,
    };
    this.deltas.addRequest(dims, { ...NO_FACTS, status: "pending" }, 1);
    if (dims.session !== null) this.deltas.addSession(dims, 1, 0);
  }

  /** After the writer stored `after` over `before` (a status change or a refreshed end). */
  requestChanged(row: DimsRow, before: LifecycleState, after: LifecycleState): void {
    if (lifecycleMoved(before, after)) this.deltas.moveLifecycle(dimsOf(row), before, after);
  }

  /** After stage runs ended; only completed and failed runs are counted. */
  stagesEnded(row: DimsRow, status: string, stages: readonly EndedStage[]): void {
    if (status !== "completed" && status !== "failed") return;
    const dims = dimsOf(row);
    for (const stage of stages) {
      this.deltas.addStage(dims, stage.name, status, stage.durationMs, 1);
    }
  }

  /** After a cost was recorded. */
  costRecorded(row: DimsRow, service: string, micros: number): void {
    this.deltas.addCost(dimsOf(row), service, micros);
  }

  /** After a recorded cost was repriced by `micros` (issue 15). */
  costRepriced(row: DimsRow, service: string, micros: number): void {
    this.deltas.addCostChange(dimsOf(row), service, micros);
  }

  /**
   * Before a hard delete (retention): takes the requests, their finished stages and their
   * costs out of the rollups. Soft deletes change nothing: aggregates keep counting them.
   */
  async forget(ids: readonly string[]): Promise<void> {
    await this.addRows("r.id = ANY($1::text[])", [ids], -1);
  }

  /** Writes the deltas held (inside the caller's transaction), then starts over. */
  async flush(): Promise<void> {
    if (this.deltas.isEmpty) return;
    const params = this.takeParams();
    let at = 0;
    for (const [statement, width] of ROLLUP_UPSERTS) {
      const columns = params.slice(at, at + width);
      at += width;
      if ((columns[0] as unknown[]).length > 0) await this.sql.run(statement, columns);
    }
  }

  /**
   * The deltas held as the parameters of the `ROLLUP_UPSERTS` in order (one array per
   * column, rows sorted by key), then starts over. The writer sends them in its batch
   * statement.
   */
  takeParams(): unknown[][] {
    const byKey =
      <T>(key: (row: T) => (string | number)[]) =>
      (a: T, b: T) =>
        compareKeys(key(a), key(b));
    const requests = [...this.deltas.requestRows()]
      .sort(byKey((r) => [r.level, r.bucket, r.tenant, r.kind, r.source]))
      .map((r) => [
        r.level,
        r.bucket,
        r.tenant,
        r.kind,
        r.source,
        ...r.counters,
        r.latency?.toJsonText() ?? null,
        r.queue?.toJsonText() ?? null,
      ]);
    const stages = [...this.deltas.stageRows()]
      .sort(byKey((r) => [r.level, r.bucket, r.tenant, r.kind, r.stage]))
      .map((s) => [
        s.level,
        s.bucket,
        s.tenant,
        s.kind,
        s.stage,
        s.completed,
        s.failed,
        s.durationSum,
        s.durations.toJsonText(),
      ]);
    const sums = (rows: SumRowDelta[]) =>
      rows.sort(byKey((r) => r.key)).map((r) => [...r.key, r.n, r.micros]);
    const costs = sums([...this.deltas.costRows()]);
    const sessions = sums([...this.deltas.sessionRows()]);
    this.deltas.reset();
    const widths = ROLLUP_UPSERTS.map(([, width]) => width);
    return [requests, stages, costs, sessions].flatMap((rows, i) =>
      transpose(rows, widths[i] as number),
    );
  }

  /** Drops the deltas held (the writes they belong to were rolled back). */
  reset(): void {
    this.deltas.reset();
  }

  /**
   * Recomputes every rollup from the rows when migration 10 asked for it (a schema that held
   * requests before the rollups existed), in the caller's transaction. The marker row is
   * locked first, so when servers start together one rebuilds and the others find it done.
   */
  async rebuildIfPending(): Promise<boolean> {
    const marker = await this.sql.row(
      "SELECT 1 FROM rollup_state WHERE key = 'rebuild' FOR UPDATE",
    );
    if (!marker) return false;
    for (const table of ["rollup_requests", "rollup_stages", "rollup_costs", "rollup_sessions"]) {
      await this.sql.exec(`DELETE FROM ${table}`);
    }
    let after: [number, string] = [Number.MIN_SAFE_INTEGER, ""];
    for (;;) {
      const page = await this.sql.rows<{ createdAt: number; id: string }>(
        `SELECT created_at AS "createdAt", id FROM requests
        WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT ${REBUILD_PAGE}`,
        after,
      );
      const last = page.at(-1);
      if (!last) break;
      await this.addRows("r.id = ANY($1::text[])", [page.map((r) => r.id)], 1);
      // Deltas are additive, so flushing page by page is exact and bounds memory.
      await this.flush();
      after = [last.createdAt, last.id];
    }
    await this.sql.exec("DELETE FROM rollup_state WHERE key = 'rebuild'");
    return true;
  }

  /**
   * Before a request's tenant or session changes (`setContext`): its whole stored
   * contribution (the request, its finished stages, its costs) leaves the old cells and joins
   * the new ones. The batch must have written its earlier changes to the request first.
   */
  async moveRequest(id: string, tenantId: string | null, sessionId: string | null): Promise<void> {
    const stored = await this.readRows("r.id = $1", [id]);
    this.addStored(stored, -1);
    this.addStored(stored, 1, (row) => ({ ...row, tenantId, sessionId }));
  }

  /** Adds (1) or takes out (-1) whole stored requests, their finished stages and costs. */
  private async addRows(where: string, values: unknown[], sign: 1 | -1): Promise<void> {
    this.addStored(await this.readRows(where, values), sign);
  }

  private async readRows(where: string, values: unknown[]): Promise<StoredRows> {
    const requests = await this.sql.rows<DimsRow & RequestFacts>(
      `SELECT ${prefixed("r")}, r.status, r.duration_ms AS "durationMs",
      r.queue_ms AS "queueMs", r.cost_micros AS "costMicros" FROM requests r WHERE ${where}`,
      values,
    );
    const stages = await this.sql.rows<DimsRow & EndedStage & { status: "completed" | "failed" }>(
      `SELECT ${prefixed("r")}, s.name, s.status, s.duration_ms AS "durationMs"
      FROM requests r JOIN stages s ON s.request_id = r.id
      WHERE ${where} AND s.status IN ('completed', 'failed')`,
      values,
    );
    const costs = await this.sql.rows<DimsRow & { service: string; n: number; micros: number }>(
      `SELECT ${prefixed("r")}, c.service, count(*)::int8 AS n,
      sum(c.amount_micros)::int8 AS micros FROM requests r JOIN costs c ON c.request_id = r.id
      WHERE ${where} GROUP BY r.id, c.service`,
      values,
    );
    return { requests, stages, costs };
  }

  /** `as` gives the dimensions the rows count under (a move counts them under new ones). */
  private addStored(
    { requests, stages, costs }: StoredRows,
    sign: 1 | -1,
    as: (row: DimsRow) => DimsRow = (row) => row,
  ): void {
    for (const row of requests) this.deltas.addRequestRow({ ...row, ...dimsOf(as(row)) }, sign);
    for (const s of stages) {
      this.deltas.addStage(dimsOf(as(s)), s.name, s.status, s.durationMs, sign);
    }
    for (const c of costs) {
      this.deltas.addServiceCost(dimsOf(as(c)), c.service, sign * c.n, sign * c.micros);
    }
  }
}

/** Stored requests with their finished stages and costs by service, as the rollups count them. */
interface StoredRows {
  requests: (DimsRow & RequestFacts)[];
  stages: (DimsRow & EndedStage & { status: "completed" | "failed" })[];
  costs: (DimsRow & { service: string; n: number; micros: number })[];
}

const NO_FACTS: RequestFacts = {
  status: "pending",
  durationMs: null,
  queueMs: null,
  costMicros: 0,
};

function dimsOf(row: DimsRow): Dims {
  return {
    createdAt: row.createdAt,
    tenant: row.tenantId ?? "",
    kind: row.kind ?? "",
    source: row.source ?? "",
    session: row.sessionId,
  };
}

function prefixed(table: string): string {
  return `${table}.created_at AS "createdAt", ${table}.tenant_id AS "tenantId",
    ${table}.kind AS kind, ${table}.source AS source, ${table}.session_id AS "sessionId"`;
}

/** Column arrays of `rows` (what unnest takes). */
export function transpose(rows: readonly (readonly unknown[])[], width: number): unknown[][] {
  const columns: unknown[][] = Array.from({ length: width }, () => []);
  for (const row of rows) for (let i = 0; i < width; i++) columns[i]?.push(row[i]);
  return columns;
}

function compareKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
