import type pg from "pg";
import { createTracker, type Logger, type Tracker } from "../../src/index.js";
import { POSTGRES_MIGRATIONS } from "../../src/store/migrations/postgres.js";
import { failOnMismatch } from "./harness.js";
import {
  type CostInsert,
  type EventInsert,
  type LifecycleUpdate,
  type RequestInsert,
  ROW_WRITES_PER_LIFECYCLE,
  type RowSink,
  runCallers,
  type RunTime,
  runWaves,
  type StageFinish,
  storedChecks,
} from "./ingest-lifecycle.js";
import { type BenchSchema, numberOf, onConnection, rowWritesOf } from "./postgres.js";

/**
 * The two sides of bench/ingest.ts on PostgreSQL, each on a fresh schema (the caller makes
 * it): reqtrack through createTracker, and raw `pg` writing the same rows with one
 * multi-row statement per table and kind of write, in transactions of `BASELINE_ROWS` rows.
 */

/** Rows per baseline transaction, as in the SQLite baseline. */
export const BASELINE_ROWS = 1000;

export interface PostgresMeasurement {
  seconds: number;
  /**
   * Rows reqtrack writes beyond the data rows, per lifecycle: op ids kept for exactly-once
   * replays, analytics rollups.
   */
  extraWritesPerLifecycle: number;
}

/**
 * `CONCURRENCY` callers through createTracker on a fresh schema; checked afterwards, with
 * the server's own count of the row writes (the warm-up's included: each run has its own
 * schema, so there are none).
 */
export async function runReqtrackPostgres(
  schema: BenchSchema,
  lifecycles: number,
  logger: Logger,
  prepare?: (tracker: Tracker) => Promise<void>,
): Promise<PostgresMeasurement> {
  const tracker = await createTracker({ storage: schema.url, logger });
  let time: RunTime;
  try {
    await prepare?.(tracker);
    time = await runCallers(tracker, lifecycles);
  } finally {
    await tracker.close();
  }
  const rowWrites = await rowWritesOf(schema);
  const dataWrites = lifecycles * ROW_WRITES_PER_LIFECYCLE;
  await onConnection(schema.url, async (client) => {
    const checks = await storedChecks(numberOf(client), lifecycles);
    if (rowWrites < dataWrites)
      checks.push(["row writes (pg_stat_user_tables)", rowWrites, dataWrites]);
    failOnMismatch("reqtrack on PostgreSQL", checks);
  });
  return { ...time, extraWritesPerLifecycle: (rowWrites - dataWrites) / lifecycles };
}

/** The raw side: reqtrack's tables made by its migrations, then the waves through `pg`. */
export async function runBaselinePostgres(
  url: string,
  lifecycles: number,
): Promise<PostgresMeasurement> {
  return onConnection(url, async (client) => {
    for (const migration of POSTGRES_MIGRATIONS) await client.query(migration.up);
    const seconds = await runWaves(new PgBatchWriter(client, BASELINE_ROWS), lifecycles);
    failOnMismatch("raw pg baseline", await storedChecks(numberOf(client), lifecycles));
    return { seconds, extraWritesPerLifecycle: 0 };
  });
}

/** The rows of one baseline transaction. */
class Batch {
  rows = 0;
  readonly requests: RequestInsert[] = [];
  readonly stages: { requestId: string; name: string; attempt: number; at: number }[] = [];
  readonly events: EventInsert[] = [];
  readonly costs: CostInsert[] = [];
  /**
   * A status change sets the whole lifecycle state, so of two changes to one request in one
   * transaction only the later needs writing (an UPDATE ... FROM touches a row only once).
   */
  readonly lifecycles = new Map<string, LifecycleUpdate>();
  readonly finishedStages: StageFinish[] = [];
  /** Cost added per request in this transaction; the latest time becomes updated_at. */
  readonly costAdds = new Map<string, { micros: number; at: number }>();
}

/**
 * The baseline's writer: buffers rows and commits every `rowsPerTransaction` of them in one
 * transaction of at most seven statements, each a multi-row INSERT ... SELECT FROM unnest()
 * or an UPDATE ... FROM unnest() with one array parameter per column (prepared once per
 * connection). No reads, no validation, no op ids, no notifications.
 */
class PgBatchWriter implements RowSink {
  private batch = new Batch();
  private readonly ready: Batch[] = [];

  constructor(
    private readonly client: pg.Client,
    private readonly rowsPerTransaction: number,
  ) {}

  insertRequest(row: RequestInsert): void {
    this.batch.requests.push(row);
    this.counted();
  }

  updateLifecycle(row: LifecycleUpdate): void {
    this.batch.lifecycles.set(row.id, row);
    this.counted();
  }

  insertStage(requestId: string, name: string, attempt: number, at: number): void {
    this.batch.stages.push({ requestId, name, attempt, at });
    this.counted();
  }

  finishStage(row: StageFinish): void {
    this.batch.finishedStages.push(row);
    this.counted();
  }

  insertEvent(row: EventInsert): void {
    this.batch.events.push(row);
    this.counted();
  }

  insertCost(row: CostInsert): void {
    this.batch.costs.push(row);
    this.counted();
  }

  addCost(requestId: string, micros: number, at: number): void {
    const earlier = this.batch.costAdds.get(requestId);
    this.batch.costAdds.set(requestId, { micros: micros + (earlier?.micros ?? 0), at });
    this.counted();
  }

  async stepDone(): Promise<void> {
    for (const batch of this.ready.splice(0)) await this.commit(batch);
  }

  async finish(): Promise<void> {
    if (this.batch.rows > 0) this.ready.push(this.batch);
    this.batch = new Batch();
    await this.stepDone();
  }

  private counted(): void {
    if (++this.batch.rows < this.rowsPerTransaction) return;
    this.ready.push(this.batch);
    this.batch = new Batch();
  }

  private async commit(batch: Batch): Promise<void> {
    await this.client.query("BEGIN");
    try {
      // Inserts first: a row updated in the same transaction must exist by then.
      await this.run(INSERT_REQUESTS, batch.requests, [
        (r) => r.id,
        (r) => r.priority,
        (r) => r.lane,
        (r) => r.userId,
        (r) => r.channelId,
        (r) => r.tenantId,
        (r) => r.sessionId,
        (r) => r.kind,
        (r) => r.source,
        (r) => r.tags,
        (r) => r.initialMessage,
        (r) => r.input,
        (r) => r.intent,
        (r) => r.entities,
        (r) => r.parentId,
        (r) => r.correlationId,
        (r) => r.maxAttempts,
        (r) => r.timeoutMs,
        (r) => r.deadlineAt,
        (r) => r.createdAt,
      ]);
      await this.run(INSERT_STAGES, batch.stages, [
        (s) => s.requestId,
        (s) => s.name,
        (s) => s.attempt,
        (s) => s.at,
      ]);
      await this.run(INSERT_EVENTS, batch.events, [
        (e) => e.requestId,
        (e) => e.at,
        (e) => e.type,
        (e) => e.stage,
        (e) => e.severity,
        (e) => e.message,
        (e) => e.data,
      ]);
      await this.run(INSERT_COSTS, batch.costs, [
        (c) => c.requestId,
        (c) => c.at,
        (c) => c.service,
        (c) => c.amountMicros,
        (c) => c.usage,
        (c) => c.stage,
      ]);
      await this.run(
        UPDATE_LIFECYCLES,
        [...batch.lifecycles.values()],
        [
          (u) => u.id,
          (u) => u.status,
          (u) => u.startedAt,
          (u) => u.completedAt,
          (u) => u.queueMs,
          (u) => u.durationMs,
          (u) => u.attempts,
          (u) => u.workerId,
          (u) => u.leaseExpiresAt,
          (u) => u.result,
          (u) => u.errorMessage,
          (u) => u.errorStage,
          (u) => u.errorDetails,
          (u) => u.at,
        ],
      );
      await this.run(
        ADD_COSTS,
        [...batch.costAdds],
        [([id]) => id, ([, add]) => add.micros, ([, add]) => add.at],
      );
      await this.run(FINISH_STAGES, batch.finishedStages, [
        (s) => s.id,
        (s) => s.name,
        (s) => s.attempt,
        (s) => s.status,
        (s) => s.at,
        (s) => s.durationMs,
        (s) => s.output,
        (s) => s.errorMessage,
        (s) => s.errorDetails,
        (s) => s.retryable,
      ]);
      await this.client.query("COMMIT");
    } catch (error) {
      await this.client.query("ROLLBACK");
      throw error;
    }
  }

  /** One statement for all `rows`: one array parameter per column, in `columns` order. */
  private async run<T>(
    statement: { name: string; text: string },
    rows: readonly T[],
    columns: readonly ((row: T) => unknown)[],
  ): Promise<void> {
    if (rows.length === 0) return;
    const values = columns.map((column) => rows.map(column));
    await this.client.query({ ...statement, values });
  }
}

// SQL text after src/store/postgres/postgres-writer.ts, one row per array element.

const INSERT_REQUESTS = {
  name: "bench_insert_requests",
  text: `INSERT INTO requests (id, status, priority, lane, user_id, channel_id, tenant_id,
  session_id, kind, source, tags, initial_message, input, intent, entities, parent_id,
  correlation_id, max_attempts, timeout_ms, deadline_at, created_at, updated_at, lane_at)
  SELECT id, 'pending', priority, lane, user_id, channel_id, tenant_id, session_id, kind,
  source, tags, initial_message, input, intent, entities, parent_id, correlation_id,
  max_attempts, timeout_ms, deadline_at, created_at, created_at, created_at
  FROM unnest($1::text[], $2::float8[], $3::text[], $4::text[], $5::text[], $6::text[],
  $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
  $14::text[], $15::text[], $16::text[], $17::int[], $18::int8[], $19::int8[], $20::int8[])
  AS v(id, priority, lane, user_id, channel_id, tenant_id, session_id, kind, source, tags,
  initial_message, input, intent, entities, parent_id, correlation_id, max_attempts,
  timeout_ms, deadline_at, created_at)
  ON CONFLICT (id) DO NOTHING`,
};

const INSERT_STAGES = {
  name: "bench_insert_stages",
  text: `INSERT INTO stages (request_id, name, attempt, status, started_at)
  SELECT request_id, name, attempt, 'running', started_at
  FROM unnest($1::text[], $2::text[], $3::int[], $4::int8[])
  AS v(request_id, name, attempt, started_at)`,
};

const INSERT_EVENTS = {
  name: "bench_insert_events",
  text: `INSERT INTO events (request_id, ts, type, stage, severity, message, data)
  SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[],
  $6::text[], $7::text[])`,
};

const INSERT_COSTS = {
  name: "bench_insert_costs",
  text: `INSERT INTO costs (request_id, ts, service, amount_micros, usage, stage)
  SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::text[], $6::text[])`,
};

const UPDATE_LIFECYCLES = {
  name: "bench_update_lifecycles",
  text: `UPDATE requests r SET status = v.status, started_at = v.started_at,
  completed_at = v.completed_at, queue_ms = v.queue_ms, duration_ms = v.duration_ms,
  attempts = v.attempts, worker_id = v.worker_id, lease_expires_at = v.lease_expires_at,
  result = v.result, error_message = v.error_message, error_stage = v.error_stage,
  error_details = v.error_details, updated_at = v.at
  FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::int8[],
  $7::int[], $8::text[], $9::int8[], $10::text[], $11::text[], $12::text[], $13::text[],
  $14::int8[])
  AS v(id, status, started_at, completed_at, queue_ms, duration_ms, attempts, worker_id,
  lease_expires_at, result, error_message, error_stage, error_details, at)
  WHERE r.id = v.id`,
};

const ADD_COSTS = {
  name: "bench_add_costs",
  text: `UPDATE requests r SET cost_micros = r.cost_micros + v.micros,
  updated_at = greatest(r.updated_at, v.at)
  FROM unnest($1::text[], $2::int8[], $3::int8[]) AS v(id, micros, at)
  WHERE r.id = v.id AND r.deleted_at IS NULL`,
};

const FINISH_STAGES = {
  name: "bench_finish_stages",
  text: `UPDATE stages s SET status = v.status, completed_at = v.at,
  duration_ms = v.duration_ms, output = v.output, error_message = v.error_message,
  error_details = v.error_details, retryable = v.retryable
  FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int8[], $6::int8[],
  $7::text[], $8::text[], $9::text[], $10::bool[])
  AS v(request_id, name, attempt, status, at, duration_ms, output, error_message,
  error_details, retryable)
  WHERE s.request_id = v.request_id AND s.name = v.name AND s.attempt = v.attempt`,
};
