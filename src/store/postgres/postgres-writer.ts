import { IdConflictError, NotFoundError, ReqtrackError } from "../../core/errors.js";
import { toJsonText } from "../../core/json.js";
import {
  type LifecycleState,
  planRequeue,
  planTransition,
  transitionOutcome,
} from "../../core/lifecycle.js";
import {
  type ChangeEvent,
  type CostOp,
  type CreateOp,
  type DeleteOp,
  type EventOp,
  type IncrementOp,
  isSameTenantDuplicate,
  type Op,
  type OpResult,
  type RequeueOp,
  type StageOp,
  type SweepChange,
  type TransitionOp,
  withinTenant,
} from "../../core/ops.js";
import { type EventRow, planStage } from "../../core/stage-lifecycle.js";
import { requeueReason, requeueRecord, transitionRecord } from "../../core/status-records.js";
import type { RequestStatus } from "../../core/types.js";
import { type RequestRow, toRequestRecord } from "../rows.js";
import type { Sql } from "./pg-connection.js";
import { type DimsRow, PostgresRollups, ROLLUP_UPSERTS, transpose } from "./postgres-rollups.js";

/** A requests row as `SELECT *` returns it (rows.ts leaves out the queue's columns). */
type Row = RequestRow & { lease_ms: number | null };

/** A request as the batch holds it: its row, whether it is new, whether it changed. */
interface HeldRequest {
  row: Row;
  isNew: boolean;
  dirty: boolean;
  /** Its stage runs, loaded when an op of the batch needs them. */
  stages?: HeldStage[];
}

interface HeldStage {
  name: string;
  attempt: number;
  status: string;
  startedAt: number;
  completedAt: number | null;
  durationMs: number | null;
  output: string | null;
  errorMessage: string | null;
  errorDetails: string | null;
  retryable: boolean | null;
  isNew: boolean;
  dirty: boolean;
}

/** What one batch writes, gathered while its ops are planned. */
interface Writes {
  events: [string, number, EventRow][];
  costs: CostOp[];
  tags: [string, string][];
}

/** A requeue's answer (null: the request was no longer running there). */
export type RequeueResult = SweepChange | null;

// The lifecycle columns, in LifecycleState order; `lifecycle` and `store` map them.
const MUTABLE_COLUMNS = [
  "status",
  "started_at",
  "completed_at",
  "queue_ms",
  "duration_ms",
  "attempts",
  "worker_id",
  "lease_expires_at",
  "lease_ms",
  "result",
  "error_message",
  "error_stage",
  "error_details",
  "updated_at",
  "deleted_at",
  "cost_micros",
  "counters",
] as const;

const MUTABLE_TYPES: Record<(typeof MUTABLE_COLUMNS)[number], string> = {
  status: "text",
  started_at: "int8",
  completed_at: "int8",
  queue_ms: "int8",
  duration_ms: "int8",
  attempts: "int4",
  worker_id: "text",
  lease_expires_at: "int8",
  lease_ms: "int8",
  result: "text",
  error_message: "text",
  error_stage: "text",
  error_details: "text",
  updated_at: "int8",
  deleted_at: "int8",
  cost_micros: "int8",
  counters: "text",
};

const INSERT_COLUMNS = [
  "id",
  "priority",
  "lane",
  "user_id",
  "channel_id",
  "tenant_id",
  "session_id",
  "kind",
  "source",
  "tags",
  "initial_message",
  "input",
  "intent",
  "entities",
  "parent_id",
  "correlation_id",
  "max_attempts",
  "timeout_ms",
  "deadline_at",
  "created_at",
  // Issue 15: estimates and replays (set at creation, never changed).
  "estimated_cost_micros",
  "replay_of",
  ...MUTABLE_COLUMNS,
] as const;

const INSERT_TYPES: Record<(typeof INSERT_COLUMNS)[number], string> = {
  ...MUTABLE_TYPES,
  id: "text",
  priority: "float8",
  lane: "text",
  user_id: "text",
  channel_id: "text",
  tenant_id: "text",
  session_id: "text",
  kind: "text",
  source: "text",
  tags: "text",
  initial_message: "text",
  input: "text",
  intent: "text",
  entities: "text",
  parent_id: "text",
  correlation_id: "text",
  max_attempts: "int4",
  timeout_ms: "int8",
  deadline_at: "int8",
  created_at: "int8",
  estimated_cost_micros: "int8",
  replay_of: "text",
};

const unnestOf = (columns: readonly string[], types: Record<string, string>) =>
  `unnest(${columns.map((c, i) => `$${i + 1}::${types[c]}[]`).join(", ")}) AS d(${columns.join(", ")})`;

// A plain INSERT, not ON CONFLICT: an id another server inserted since this batch read
// the rows fails the batch, which then runs op by op and answers that create as duplicate.
const INSERT_REQUESTS = `INSERT INTO requests (${INSERT_COLUMNS.join(", ")}, lane_at)
  SELECT ${INSERT_COLUMNS.join(", ")}, created_at FROM ${unnestOf(INSERT_COLUMNS, INSERT_TYPES)}`;

const UPDATE_REQUESTS = `UPDATE requests r SET ${MUTABLE_COLUMNS.map((c) => `${c} = d.${c}`).join(", ")}
  FROM ${unnestOf(["id", ...MUTABLE_COLUMNS], { id: "text", ...MUTABLE_TYPES })}
  WHERE r.id = d.id`;

const STAGE_COLUMNS = [
  "request_id",
  "name",
  "attempt",
  "status",
  "started_at",
  "completed_at",
  "duration_ms",
  "output",
  "error_message",
  "error_details",
  "retryable",
] as const;

const STAGE_TYPES: Record<(typeof STAGE_COLUMNS)[number], string> = {
  request_id: "text",
  name: "text",
  attempt: "int4",
  status: "text",
  started_at: "int8",
  completed_at: "int8",
  duration_ms: "int8",
  output: "text",
  error_message: "text",
  error_details: "text",
  retryable: "bool",
};

const INSERT_STAGES = `INSERT INTO stages (${STAGE_COLUMNS.join(", ")})
  SELECT * FROM ${unnestOf(STAGE_COLUMNS, STAGE_TYPES)}`;

// Rows come out of unnest in array order, so event ids follow the order of the ops.
const INSERT_EVENTS = `INSERT INTO events (request_id, ts, type, stage, severity, message, data)
  SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
  $7::text[])`;

const INSERT_COSTS = `INSERT INTO costs (request_id, ts, service, amount_micros, usage, stage,
  price) SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::text[],
  $6::text[], $7::text[])`;

const INSERT_TAGS = `INSERT INTO request_tags (tag, request_id)
  SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`;

// Only the ends of runs are rewritten (a loaded stage's output is not read, and a running
// stage has none).
const END_STAGES = `UPDATE stages s SET status = d.status, completed_at = d.completed_at,
  duration_ms = d.duration_ms, output = coalesce(d.output, s.output),
  error_message = d.error_message, error_details = d.error_details, retryable = d.retryable
  FROM ${unnestOf(STAGE_COLUMNS, STAGE_TYPES)}
  WHERE s.request_id = d.request_id AND s.name = d.name AND s.attempt = d.attempt`;

/**
 * Every write of a batch in one statement: each table's change is a data-modifying CTE fed
 * by arrays (empty ones write nothing), and the notifications go out from its SELECT. The
 * CTEs touch different rows, as they must: a row is never changed twice in one statement.
 * The text never varies, so each connection prepares it once.
 */
const WRITE_BATCH = batchStatement([
  [INSERT_REQUESTS, INSERT_COLUMNS.length],
  [INSERT_TAGS, 2],
  [UPDATE_REQUESTS, 1 + MUTABLE_COLUMNS.length],
  [INSERT_STAGES, STAGE_COLUMNS.length],
  [END_STAGES, STAGE_COLUMNS.length],
  [INSERT_EVENTS, 7],
  [INSERT_COSTS, 7], // issue 15: + price
  ...ROLLUP_UPSERTS,
]);

/** The statements as CTEs, their $n renumbered after the ones before, then the NOTIFYs. */
function batchStatement(pieces: readonly (readonly [string, number])[]): string {
  let offset = 0;
  const ctes = pieces.map(([text, width], i) => {
    const shift = offset;
    offset += width;
    return `w${i} AS (${text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + shift}`)})`;
  });
  return `WITH ${ctes.join(",\n")}
    SELECT count(pg_notify($${offset + 1}, payload)) FROM unnest($${offset + 2}::text[]) AS payload`;
}

/**
 * Applies a batch of ops on one connection inside the store's batch transaction, set-wise:
 * one read locks every request the ops touch (in id order, so that servers writing at once
 * cannot deadlock on them), the ops are planned one after the other in memory with the
 * rules every driver shares (core/lifecycle.ts, core/stage-lifecycle.ts), and what they
 * change goes back in one multi-row statement per table. A batch costs about ten round
 * trips however many ops it holds, where op by op it cost three or four per op.
 *
 * Domain errors (unknown request, invalid transition) are answered per op and write
 * nothing. Anything thrown is unexpected and fails the whole batch (the store then applies
 * it op by op, each in a savepoint).
 */
export class PostgresWriter {
  private held = new Map<string, HeldRequest>();
  /** Every change recorded, for queue ops, whose answers carry no op result (takeChanges). */
  private emitted: ChangeEvent[] = [];
  private writes: Writes = { events: [], costs: [], tags: [] };

  constructor(
    private readonly sql: Sql,
    /** Change events cost a little per op; they are recorded only while someone listens. */
    private readonly captureChanges: boolean,
    /** The batch's rollup deltas: every change reports its part (see postgres-rollups.ts). */
    readonly rollups: PostgresRollups = new PostgresRollups(sql),
  ) {}

  /**
   * Records the ops' ids as applied, in one statement; returns the ids that were not yet
   * recorded (an op whose id is not returned was applied before and must be skipped).
   */
  async markApplied(ops: readonly Op[]): Promise<Set<string>> {
    if (ops.length === 0) return new Set();
    const rows = await this.sql.rows<{ op_id: string }>(
      `INSERT INTO applied_ops (op_id, applied_at)
      SELECT * FROM unnest($1::text[], $2::int8[]) ON CONFLICT DO NOTHING RETURNING op_id`,
      [ops.map((op) => op.opId), ops.map((op) => op.at)],
    );
    return new Set(rows.map((row) => row.op_id));
  }

  /** The row of a request the last `apply` read or created, as this batch left it. */
  heldRow(id: string): RequestRow | undefined {
    return this.held.get(id)?.row;
  }

  /** Drops what was applied and not yet written (its savepoint was rolled back). */
  discard(): void {
    this.held = new Map();
    this.writes = { events: [], costs: [], tags: [] };
    this.emitted = [];
    this.rollups.reset();
  }

  /** The change events recorded since the last call. */
  takeChanges(): ChangeEvent[] {
    const taken = this.emitted;
    this.emitted = [];
    return taken;
  }

  async unmarkApplied(opIds: readonly string[]): Promise<void> {
    if (opIds.length === 0) return;
    await this.sql.run("DELETE FROM applied_ops WHERE op_id = ANY($1::text[])", [opIds]);
  }

  /**
   * Applies `ops` in order, in memory: one result per op (a requeue answers with its sweep
   * change). Requests are read and locked once per batch: later ops of the batch find them
   * held, as the ops before left them. Their writes go out with the next `write`.
   */
  async apply(ops: readonly Op[]): Promise<OpResult[]>;
  async apply(ops: readonly (Op | RequeueOp)[]): Promise<(OpResult | RequeueResult)[]>;
  async apply(ops: readonly (Op | RequeueOp)[]): Promise<(OpResult | RequeueResult)[]> {
    await this.load(ops);
    return ops.map((op) => this.plan(op));
  }

  /**
   * Takes rows the caller has just read and locked (a claim's pick) as held, so that
   * applying ops to them needs no read. Rows already held are kept as the batch left them.
   */
  hold(rows: readonly RequestRow[]): void {
    for (const row of rows) {
      if (!this.held.has(row.id))
        this.held.set(row.id, { row: row as Row, isNew: false, dirty: false });
    }
  }

  /** The requests changed in memory and not yet written: the table still has them as before. */
  unwrittenIds(): string[] {
    return [...this.held.values()].filter((h) => h.dirty).map((h) => h.row.id);
  }

  /** True when an unwritten change left a request pending (created, retried, given back). */
  hasUnwrittenPending(): boolean {
    for (const held of this.held.values()) {
      if (held.dirty && held.row.status === "pending") return true;
    }
    return false;
  }

  /**
   * Forgets the rows held, after writing what changed: statements that are not the writer's
   * (a heartbeat, the sweep's aging) may change them, so later ops read them again.
   */
  async release(): Promise<void> {
    await this.write();
    this.held = new Map();
  }

  /** Applies and writes one op at once (the queue reads the rows right after). */
  async applyOne(op: Op): Promise<OpResult> {
    const [result] = await this.apply([op]);
    await this.write();
    return result as OpResult;
  }

  async requeue(op: RequeueOp): Promise<RequeueResult> {
    const [result] = await this.apply([op]);
    await this.write();
    return result as RequeueResult;
  }

  /** Reads and locks the requests the ops touch, and the stages of those that need them. */
  private async load(ops: readonly (Op | RequeueOp)[]): Promise<void> {
    const ids = new Set<string>();
    const withStages = new Set<string>();
    for (const op of ops) {
      const id = op.type === "create" ? op.request.id : op.requestId;
      const held = this.held.get(id);
      const needsStages =
        op.type === "stage" || op.type === "requeue" || (op.type === "transition" && ending(op.to));
      if (held && (held.stages || !needsStages)) continue;
      ids.add(id);
      if (needsStages) withStages.add(id);
    }
    if (ids.size === 0) return;
    // One read, in id order so that servers locking at once cannot deadlock: the rows, and
    // the stage runs of those that need them (as [name, attempt, status, started_at]).
    const rows = await this.sql.rows<
      Row & { stage_runs: [string, number, string, number][] | null }
    >(
      `SELECT r.*, CASE WHEN r.id = ANY($2::text[]) THEN coalesce((SELECT
        json_agg(json_build_array(s.name, s.attempt, s.status, s.started_at))
        FROM stages s WHERE s.request_id = r.id), '[]') END AS stage_runs
      FROM requests r WHERE r.id = ANY($1::text[]) ORDER BY r.id FOR UPDATE OF r`,
      [[...ids].sort(), [...withStages]],
    );
    for (const { stage_runs: runs, ...row } of rows) {
      const held = this.held.get(row.id);
      const stages = runs?.map(([name, attempt, status, startedAt]): HeldStage => ({
        name,
        attempt,
        status,
        startedAt,
        // Only ends are written back; a loaded stage keeps its other columns as stored.
        completedAt: null,
        durationMs: null,
        output: null,
        errorMessage: null,
        errorDetails: null,
        retryable: null,
        isNew: false,
        dirty: false,
      }));
      // A row held already is as this batch left it: only its stages are new here.
      if (held) held.stages = stages ?? [];
      else
        this.held.set(row.id, { row, isNew: false, dirty: false, ...(stages ? { stages } : {}) });
    }
  }

  private plan(op: Op | RequeueOp): OpResult | RequeueResult {
    if (op.type === "requeue") return this.planRequeue(op);
    try {
      return this.planOp(op);
    } catch (error) {
      if (error instanceof ReqtrackError) return { ok: false, error };
      throw error;
    }
  }

  private planOp(op: Op): OpResult {
    if (op.tenant !== undefined && op.type !== "create") {
      const held = this.held.get(op.requestId);
      if (held && !withinTenant(op, held.row.tenant_id)) {
        return { ok: false, error: new NotFoundError(op.requestId) };
      }
    }
    switch (op.type) {
      case "create":
        return this.create(op);
      case "transition":
        return this.transition(op);
      case "stage":
        return this.stage(op);
      case "event":
        return this.event(op);
      case "cost":
        return this.cost(op);
      case "increment":
        return this.increment(op);
      case "delete":
        return this.softDelete(op);
    }
  }

  /** The request, unless it does not exist or is soft-deleted. */
  private live(id: string): HeldRequest | undefined {
    const held = this.held.get(id);
    return held && held.row.deleted_at === null ? held : undefined;
  }

  private change(
    type: ChangeEvent["type"],
    row: RequestRow,
    at: number,
    data: ChangeEvent["data"],
  ): ChangeEvent[] | undefined {
    if (!this.captureChanges) return undefined;
    const status = row.status as RequestStatus;
    const change = {
      type,
      requestId: row.id,
      tenantId: row.tenant_id,
      kind: row.kind,
      status,
      at,
      data,
    };
    this.emitted.push(change);
    return [change];
  }

  private create(op: CreateOp): OpResult {
    const r = op.request;
    const existing = this.held.get(r.id);
    if (existing) {
      if (!isSameTenantDuplicate(op, existing.row.tenant_id)) {
        return { ok: false, error: new IdConflictError(r.id) };
      }
      return { ok: true, duplicate: true, created: toRequestRecord(existing.row) };
    }
    const row: Row = {
      id: r.id,
      status: "pending",
      priority: r.priority,
      lane: r.lane,
      user_id: r.userId,
      channel_id: r.channelId,
      tenant_id: r.tenantId,
      session_id: r.sessionId,
      kind: r.kind,
      source: r.source,
      tags: JSON.stringify(r.tags),
      initial_message: r.initialMessage,
      input: toJsonText(r.input),
      intent: r.intent,
      entities: toJsonText(r.entities),
      parent_id: r.parentId,
      correlation_id: r.correlationId,
      result: null,
      error_message: null,
      error_stage: null,
      error_details: null,
      attempts: 0,
      max_attempts: r.maxAttempts,
      timeout_ms: r.timeoutMs,
      worker_id: null,
      lease_expires_at: null,
      deadline_at: r.deadlineAt,
      created_at: r.createdAt,
      started_at: null,
      completed_at: null,
      updated_at: r.createdAt,
      deleted_at: null,
      queue_ms: null,
      duration_ms: null,
      cost_micros: 0,
      counters: "{}",
      lease_ms: null,
      estimated_cost_micros: r.estimatedCostMicros ?? null, // issue 15
      replay_of: r.replayOf ?? null,
    };
    this.held.set(r.id, { row, isNew: true, dirty: true, stages: [] });
    for (const tag of new Set(r.tags)) this.writes.tags.push([tag, r.id]);
    this.rollups.requestCreated(r);
    this.writes.events.push([
      r.id,
      r.createdAt,
      {
        type: "request_created",
        stage: null,
        severity: "info",
        message: "Request created",
        data: null,
      },
    ]);
    const changes = this.change("request.created", row, r.createdAt, {
      userId: r.userId,
      priority: r.priority,
      lane: r.lane,
    });
    return changes ? { ok: true, duplicate: false, changes } : { ok: true, duplicate: false };
  }

  private transition(op: TransitionOp): OpResult {
    const held = this.live(op.requestId);
    if (!held) return { ok: false, error: new NotFoundError(op.requestId) };
    const state = lifecycle(held.row);
    const isEnding = ending(op.to);
    const activeStage = isEnding && state.status === "running" ? activeStageOf(held, state) : null;
    const { next, noop } = planTransition(state, op, activeStage);
    const transition = transitionOutcome(state, next, noop);
    if (noop && next === state) return { ok: true, transition };
    this.store(held, next, op.at);
    this.rollups.requestChanged(dimsOf(held.row), state, next);
    if (noop) return { ok: true, transition };
    if (isEnding) {
      this.failRunningStages(held, op.at, next.errorMessage, op.to !== "cancelled");
    }
    const record = transitionRecord(op, state, next);
    this.writes.events.push([op.requestId, op.at, record.event]);
    const changes = this.change("request.updated", held.row, op.at, record.change);
    return changes ? { ok: true, transition, changes } : { ok: true, transition };
  }

  /**
   * Gives a running request back to the queue (see `planRequeue`). Null when it is no longer
   * running on `workerId` (it finished, or another worker has it): nothing to do.
   */
  private planRequeue(op: RequeueOp): RequeueResult {
    const held = this.live(op.requestId);
    if (!held || held.row.status !== "running") return null;
    if (op.workerId !== null && held.row.worker_id !== op.workerId) return null;
    const state = lifecycle(held.row);
    const activeStage = activeStageOf(held, state);
    const { next } = planRequeue(state, op.at, op.reason, activeStage);
    this.store(held, next, op.at);
    this.rollups.requestChanged(dimsOf(held.row), state, next);
    const record = requeueRecord(op, next, activeStage);
    this.failRunningStages(held, op.at, requeueReason(op), true);
    this.writes.events.push([op.requestId, op.at, record.event]);
    this.change("request.updated", held.row, op.at, record.change);
    return record.sweep;
  }

  /** Ends the request's running stages as failed (the request itself stopped running). */
  private failRunningStages(
    held: HeldRequest,
    at: number,
    message: string | null,
    retryable: boolean,
  ): void {
    const ended: { name: string; durationMs: number }[] = [];
    for (const stage of held.stages ?? []) {
      if (stage.status !== "running") continue;
      Object.assign(stage, {
        status: "failed",
        completedAt: at,
        durationMs: at - stage.startedAt,
        errorMessage: message,
        retryable,
        dirty: true,
      });
      ended.push({ name: stage.name, durationMs: at - stage.startedAt });
    }
    this.rollups.stagesEnded(dimsOf(held.row), "failed", ended);
  }

  private stage(op: StageOp): OpResult {
    const held = this.live(op.requestId);
    if (!held) return { ok: false, error: new NotFoundError(op.requestId) };
    const stages = held.stages ?? [];
    let last: HeldStage | undefined;
    for (const s of stages) {
      if (s.name === op.stage && (!last || s.attempt > last.attempt)) last = s;
    }
    const plan = planStage(
      {
        requestStatus: held.row.status as RequestStatus,
        stageStatus: last?.status ?? null,
        attempt: last?.attempt ?? null,
        startedAt: last?.startedAt ?? null,
      },
      op,
    );
    if (plan.kind === "noop") return { ok: true };
    if (plan.kind === "start") {
      stages.push({
        name: op.stage,
        attempt: plan.attempt,
        status: "running",
        startedAt: op.at,
        completedAt: null,
        durationMs: null,
        output: null,
        errorMessage: null,
        errorDetails: null,
        retryable: null,
        isNew: true,
        dirty: true,
      });
    } else {
      Object.assign(last as HeldStage, {
        status: plan.status,
        completedAt: op.at,
        durationMs: plan.durationMs,
        output: plan.output,
        errorMessage: plan.errorMessage,
        errorDetails: plan.errorDetails,
        retryable: plan.retryable,
        dirty: true,
      });
      this.rollups.stagesEnded(dimsOf(held.row), plan.status, [
        { name: op.stage, durationMs: plan.durationMs },
      ]);
    }
    this.writes.events.push([op.requestId, op.at, plan.event]);
    const changes = this.change("stage.updated", held.row, op.at, plan.change);
    return changes ? { ok: true, changes } : { ok: true };
  }

  private event(op: EventOp): OpResult {
    const held = this.live(op.requestId);
    if (!held) return { ok: false, error: new NotFoundError(op.requestId) };
    this.writes.events.push([
      op.requestId,
      op.at,
      {
        type: op.eventType,
        stage: op.stage,
        severity: op.severity,
        message: op.message,
        data: toJsonText(op.data),
      },
    ]);
    const changes = this.change("event.logged", held.row, op.at, {
      type: op.eventType,
      severity: op.severity,
      message: op.message,
      stage: op.stage,
    });
    return changes ? { ok: true, changes } : { ok: true };
  }

  private cost(op: CostOp): OpResult {
    const held = this.live(op.requestId);
    if (!held) return { ok: false, error: new NotFoundError(op.requestId) };
    held.row.cost_micros += op.amountMicros;
    held.row.updated_at = op.at;
    held.dirty = true;
    this.rollups.costRecorded(dimsOf(held.row), op.service, op.amountMicros);
    this.writes.costs.push(op);
    const changes = this.change("request.updated", held.row, op.at, {
      costAddedMicros: op.amountMicros,
      service: op.service,
    });
    return changes ? { ok: true, changes } : { ok: true };
  }

  private increment(op: IncrementOp): OpResult {
    const held = this.live(op.requestId);
    if (!held) return { ok: false, error: new NotFoundError(op.requestId) };
    const counters = JSON.parse(held.row.counters) as Record<string, number>;
    counters[op.counter] = (counters[op.counter] ?? 0) + op.by;
    held.row.counters = JSON.stringify(counters);
    held.row.updated_at = op.at;
    held.dirty = true;
    const changes = this.change("request.updated", held.row, op.at, {
      counter: op.counter,
      by: op.by,
    });
    return changes ? { ok: true, changes } : { ok: true };
  }

  private softDelete(op: DeleteOp): OpResult {
    const held = this.held.get(op.requestId);
    // Deleting twice is a no-op; deleting what never existed is not.
    if (!held) return { ok: false, error: new NotFoundError(op.requestId) };
    if (held.row.deleted_at !== null) return { ok: true };
    held.row.deleted_at = op.at;
    held.row.updated_at = op.at;
    held.dirty = true;
    const changes = this.change("request.updated", held.row, op.at, { deleted: true });
    return changes ? { ok: true, changes } : { ok: true };
  }

  /** Writes `next` into the held row. */
  private store(held: HeldRequest, next: LifecycleState, at: number): void {
    const row = held.row;
    row.status = next.status;
    row.started_at = next.startedAt;
    row.completed_at = next.completedAt;
    row.queue_ms = next.queueMs;
    row.duration_ms = next.durationMs;
    row.attempts = next.attempts;
    row.worker_id = next.workerId;
    row.lease_expires_at = next.leaseExpiresAt;
    row.lease_ms = next.leaseMs;
    row.result = next.result;
    row.error_message = next.errorMessage;
    row.error_stage = next.errorStage;
    row.error_details = next.errorDetails;
    row.updated_at = at;
    held.dirty = true;
  }

  /**
   * Writes what the ops applied since the last write changed, the batch's rollup deltas and,
   * when given, its notifications: all in one statement (see WRITE_BATCH), so a batch's
   * writes cost one round trip.
   */
  async write(notify?: { channel: string; payloads: string[] }): Promise<void> {
    const created: Row[] = [];
    const changed: Row[] = [];
    const newStages: unknown[][] = [];
    const endedStages: unknown[][] = [];
    for (const held of this.held.values()) {
      if (held.dirty) (held.isNew ? created : changed).push(held.row);
      held.dirty = false;
      held.isNew = false;
      for (const s of held.stages ?? []) {
        if (!s.dirty) continue;
        (s.isNew ? newStages : endedStages).push([
          held.row.id,
          s.name,
          s.attempt,
          s.status,
          s.startedAt,
          s.completedAt,
          s.durationMs,
          s.output,
          s.errorMessage,
          s.errorDetails,
          s.retryable,
        ]);
        s.dirty = false;
        s.isNew = false;
      }
    }
    const { events, costs, tags } = this.writes;
    this.writes = { events: [], costs: [], tags: [] };
    const rollups = this.rollups.takeParams();
    const payloads = notify?.payloads ?? [];
    const nothing =
      created.length + changed.length + newStages.length + endedStages.length === 0 &&
      events.length + costs.length + tags.length + payloads.length === 0 &&
      rollups.every((column) => column.length === 0);
    if (nothing) return;
    const columnsOf = (rows: Row[], columns: readonly string[]) =>
      columns.map((c) => rows.map((row) => (row as unknown as Record<string, unknown>)[c]));
    await this.sql.run(WRITE_BATCH, [
      ...columnsOf(created, INSERT_COLUMNS),
      ...transpose(tags, 2),
      ...columnsOf(changed, ["id", ...MUTABLE_COLUMNS]),
      ...transpose(newStages, STAGE_COLUMNS.length),
      ...transpose(endedStages, STAGE_COLUMNS.length),
      ...transpose(
        events.map(([id, at, e]) => [id, at, e.type, e.stage, e.severity, e.message, e.data]),
        7,
      ),
      ...transpose(
        costs.map((c) => [
          c.requestId,
          c.at,
          c.service,
          c.amountMicros,
          toJsonText(c.usage),
          c.stage,
          c.price ? JSON.stringify(c.price) : null,
        ]),
        7,
      ),
      ...rollups,
      notify?.channel ?? null,
      payloads,
    ]);
  }
}

function ending(to: RequestStatus): boolean {
  return to === "failed" || to === "timeout" || to === "cancelled";
}

function lifecycle(row: Row): LifecycleState {
  return {
    status: row.status as RequestStatus,
    createdAt: row.created_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    queueMs: row.queue_ms,
    durationMs: row.duration_ms,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    timeoutMs: row.timeout_ms,
    workerId: row.worker_id,
    leaseExpiresAt: row.lease_expires_at,
    leaseMs: row.lease_ms,
    result: row.result,
    errorMessage: row.error_message,
    errorStage: row.error_stage,
    errorDetails: row.error_details,
  };
}

/**
 * The stage a failing run stopped in: the one still running, else the last that failed
 * during this run.
 */
function activeStageOf(held: HeldRequest, state: LifecycleState): string | null {
  const since = state.startedAt ?? 0;
  let best: HeldStage | undefined;
  for (const s of held.stages ?? []) {
    if ((s.status !== "running" && s.status !== "failed") || s.startedAt < since) continue;
    if (!best) {
      best = s;
      continue;
    }
    const rank = (x: HeldStage) => (x.status === "running" ? 1 : 0);
    if (
      rank(s) > rank(best) ||
      (rank(s) === rank(best) &&
        (s.startedAt > best.startedAt ||
          (s.startedAt === best.startedAt && s.attempt > best.attempt)))
    ) {
      best = s;
    }
  }
  return best?.name ?? null;
}

function dimsOf(row: RequestRow): DimsRow {
  return {
    createdAt: row.created_at,
    tenantId: row.tenant_id,
    kind: row.kind,
    source: row.source,
    sessionId: row.session_id,
  };
}
