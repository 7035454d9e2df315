import { NotFoundError, ReqtrackError } from "../../core/errors.js";
import { type EventRow, planStage } from "../../core/stage-lifecycle.js";
import { requeueReason, requeueRecord, transitionRecord } from "../../core/status-records.js";
import { toJsonText } from "../../core/json.js";
import { type LifecycleState, planRequeue, planTransition } from "../../core/lifecycle.js";
import type {
  ChangeEvent,
  CostOp,
  CreateOp,
  DeleteOp,
  EventOp,
  IncrementOp,
  Op,
  OpResult,
  RequeueOp,
  StageOp,
  SweepChange,
  TransitionOp,
} from "../../core/ops.js";
import type { RequestStatus } from "../../core/types.js";
import { type RequestRow, toRequestRecord } from "../rows.js";
import type { Sql } from "./pg-connection.js";

// FOR UPDATE: a transition reads, plans and writes; the row lock keeps another server's
// transaction from planning on the same state in between.
const SELECT_LIFECYCLE = `SELECT status, created_at AS "createdAt", started_at AS "startedAt",
  completed_at AS "completedAt", queue_ms AS "queueMs", duration_ms AS "durationMs", attempts,
  max_attempts AS "maxAttempts", timeout_ms AS "timeoutMs", worker_id AS "workerId",
  lease_expires_at AS "leaseExpiresAt", lease_ms AS "leaseMs", result,
  error_message AS "errorMessage", error_stage AS "errorStage", error_details AS "errorDetails",
  tenant_id AS "tenantId", kind
  FROM requests WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`;

const UPDATE_LIFECYCLE = `UPDATE requests SET status = $2, started_at = $3, completed_at = $4,
  queue_ms = $5, duration_ms = $6, attempts = $7, worker_id = $8, lease_expires_at = $9,
  lease_ms = $10, result = $11, error_message = $12, error_stage = $13, error_details = $14,
  updated_at = $15 WHERE id = $1`;

// The stage a failing run stopped in: the one still running, else the last that failed
// during this run.
const SELECT_RUNNING_STAGE = `SELECT name FROM stages
  WHERE request_id = $1 AND status IN ('running', 'failed') AND started_at >= $2
  ORDER BY status = 'running' DESC, started_at DESC, attempt DESC LIMIT 1`;

const FAIL_RUNNING_STAGES = `UPDATE stages SET status = 'failed', completed_at = $2,
  duration_ms = $2 - started_at, error_message = $3, retryable = $4
  WHERE request_id = $1 AND status = 'running'`;

const INSERT_EVENT = `INSERT INTO events (request_id, ts, type, stage, severity, message, data)
  VALUES ($1, $2, $3, $4, $5, $6, $7)`;

const SCOPE_COLUMNS = `status, tenant_id AS "tenantId", kind`;

/** Who a request belongs to, carried by every change event. */
interface Scope {
  tenantId: string | null;
  kind: string | null;
}

type ScopedState = LifecycleState & Scope;
type StatusScope = Scope & { status: RequestStatus };

/** The request's status with the latest attempt of one of its stages (nulls when none). */
interface StageState extends Scope {
  status: RequestStatus;
  stageStatus: string | null;
  attempt: number | null;
  startedAt: number | null;
}

/**
 * Applies ops on one connection inside the store's batch transaction. The same rules as
 * SqliteWriter (lifecycle planning in core/lifecycle.ts, domain errors returned before
 * anything is written), with a row lock wherever a change depends on what was read.
 */
export class PostgresWriter {
  private changes: ChangeEvent[] = [];

  constructor(
    private readonly sql: Sql,
    /** Change events cost a little per op; they are recorded only while someone listens. */
    private readonly captureChanges: boolean,
  ) {}

  /** Records `opId` as applied; false when it already was (the op must be skipped). */
  async markApplied(opId: string, at: number): Promise<boolean> {
    return (
      (await this.sql.run(
        "INSERT INTO applied_ops (op_id, applied_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [opId, at],
      )) === 1
    );
  }

  async unmarkApplied(opId: string): Promise<void> {
    await this.sql.run("DELETE FROM applied_ops WHERE op_id = $1", [opId]);
  }

  /**
   * Applies one op. Domain errors (unknown request, invalid transition) are returned, never
   * thrown, and always before anything is written. Anything thrown is unexpected.
   */
  async apply(op: Op): Promise<OpResult> {
    try {
      return await this.applyOp(op);
    } catch (error) {
      if (error instanceof ReqtrackError) return { ok: false, error };
      throw error;
    }
  }

  /** The change events recorded since the last call; the store attaches them to op results. */
  takeChanges(): ChangeEvent[] {
    const taken = this.changes;
    this.changes = [];
    return taken;
  }

  private emit(
    type: ChangeEvent["type"],
    requestId: string,
    scope: StatusScope,
    at: number,
    data: ChangeEvent["data"],
  ): void {
    if (!this.captureChanges) return;
    const { tenantId, kind, status } = scope;
    this.changes.push({ type, requestId, tenantId, kind, status, at, data });
  }

  private applyOp(op: Op): Promise<OpResult> {
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

  private lifecycle(requestId: string): Promise<ScopedState | undefined> {
    return this.sql.row<ScopedState>(SELECT_LIFECYCLE, [requestId]);
  }

  private async writeLifecycle(id: string, next: LifecycleState, at: number): Promise<void> {
    await this.sql.run(UPDATE_LIFECYCLE, [
      id,
      next.status,
      next.startedAt,
      next.completedAt,
      next.queueMs,
      next.durationMs,
      next.attempts,
      next.workerId,
      next.leaseExpiresAt,
      next.leaseMs,
      next.result,
      next.errorMessage,
      next.errorStage,
      next.errorDetails,
      at,
    ]);
  }

  private async runningStage(requestId: string, startedAt: number | null): Promise<string | null> {
    const row = await this.sql.row<{ name: string }>(SELECT_RUNNING_STAGE, [
      requestId,
      startedAt ?? 0,
    ]);
    return row?.name ?? null;
  }

  /**
   * Gives a running request back to the queue (see `planRequeue`). Returns null when it is no
   * longer running on `workerId` (it finished, or another worker has it): nothing to do.
   */
  async requeue(op: RequeueOp): Promise<SweepChange | null> {
    const state = await this.lifecycle(op.requestId);
    if (!state || state.status !== "running") return null;
    if (op.workerId !== null && state.workerId !== op.workerId) return null;
    const activeStage = await this.runningStage(op.requestId, state.startedAt);
    const { next } = planRequeue(state, op.at, op.reason, activeStage);
    await this.writeLifecycle(op.requestId, next, op.at);
    const record = requeueRecord(op, next, activeStage);
    await this.sql.run(FAIL_RUNNING_STAGES, [op.requestId, op.at, requeueReason(op), true]);
    await this.writeEvent(op.requestId, op.at, record.event);
    this.emit(
      "request.updated",
      op.requestId,
      { ...state, status: next.status },
      op.at,
      record.change,
    );
    return record.sweep;
  }

  private async create(op: CreateOp): Promise<OpResult> {
    const r = op.request;
    const inserted = await this.sql.run(
      `INSERT INTO requests (id, status, priority, lane, user_id, channel_id, tenant_id,
      session_id, kind, source, tags, initial_message, input, intent, entities, parent_id,
      correlation_id, max_attempts, timeout_ms, deadline_at, created_at, updated_at, lane_at)
      VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
      $17, $18, $19, $20, $20, $20) ON CONFLICT (id) DO NOTHING`,
      [
        r.id,
        r.priority,
        r.lane,
        r.userId,
        r.channelId,
        r.tenantId,
        r.sessionId,
        r.kind,
        r.source,
        JSON.stringify(r.tags),
        r.initialMessage,
        toJsonText(r.input),
        r.intent,
        toJsonText(r.entities),
        r.parentId,
        r.correlationId,
        r.maxAttempts,
        r.timeoutMs,
        r.deadlineAt,
        r.createdAt,
      ],
    );
    if (inserted === 0) {
      const existing = await this.sql.row<RequestRow>("SELECT * FROM requests WHERE id = $1", [
        r.id,
      ]);
      return { ok: true, duplicate: true, created: toRequestRecord(existing as RequestRow) };
    }
    for (const tag of r.tags) {
      await this.sql.run(
        "INSERT INTO request_tags (tag, request_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [tag, r.id],
      );
    }
    this.emit("request.created", r.id, { ...r, status: "pending" }, r.createdAt, {
      userId: r.userId,
      priority: r.priority,
      lane: r.lane,
    });
    await this.sql.run(INSERT_EVENT, [
      r.id,
      r.createdAt,
      "request_created",
      null,
      "info",
      "Request created",
      null,
    ]);
    return { ok: true, duplicate: false };
  }

  private async transition(op: TransitionOp): Promise<OpResult> {
    const state = await this.lifecycle(op.requestId);
    if (!state) return { ok: false, error: new NotFoundError(op.requestId) };
    const ending = op.to === "failed" || op.to === "timeout" || op.to === "cancelled";
    const activeStage =
      ending && state.status === "running"
        ? await this.runningStage(op.requestId, state.startedAt)
        : null;
    const { next, noop } = planTransition(state, op, activeStage);
    if (noop && next === state) {
      return { ok: true, transition: outcome(state, next, true) };
    }
    await this.writeLifecycle(op.requestId, next, op.at);
    if (!noop) {
      if (ending) {
        await this.sql.run(FAIL_RUNNING_STAGES, [
          op.requestId,
          op.at,
          next.errorMessage,
          op.to !== "cancelled",
        ]);
      }
      const record = transitionRecord(op, state, next);
      await this.writeEvent(op.requestId, op.at, record.event);
      this.emit("request.updated", op.requestId, { ...state, status: op.to }, op.at, record.change);
    }
    return { ok: true, transition: outcome(state, next, noop) };
  }

  private async writeEvent(requestId: string, at: number, e: EventRow): Promise<void> {
    await this.sql.run(INSERT_EVENT, [
      requestId,
      at,
      e.type,
      e.stage,
      e.severity,
      e.message,
      e.data,
    ]);
  }

  private async stage(op: StageOp): Promise<OpResult> {
    // Locking the request serializes stage changes of one request across servers.
    const found = await this.sql.row<StageState>(
      `SELECT r.status AS status, r.tenant_id AS "tenantId", r.kind AS kind,
      s.status AS "stageStatus", s.attempt AS attempt, s.started_at AS "startedAt"
      FROM requests r LEFT JOIN stages s ON s.request_id = r.id AND s.name = $1
      WHERE r.id = $2 AND r.deleted_at IS NULL ORDER BY s.attempt DESC LIMIT 1
      FOR UPDATE OF r`,
      [op.stage, op.requestId],
    );
    if (found === undefined) return { ok: false, error: new NotFoundError(op.requestId) };
    const plan = planStage(
      {
        requestStatus: found.status,
        stageStatus: found.stageStatus,
        attempt: found.attempt ?? null,
        startedAt: found.startedAt ?? null,
      },
      op,
    );
    if (plan.kind === "noop") return { ok: true };
    if (plan.kind === "start") {
      await this.sql.run(
        `INSERT INTO stages (request_id, name, attempt, status, started_at)
        VALUES ($1, $2, $3, 'running', $4)`,
        [op.requestId, op.stage, plan.attempt, op.at],
      );
    } else {
      await this.sql.run(
        `UPDATE stages SET status = $4, completed_at = $5, duration_ms = $6, output = $7,
        error_message = $8, error_details = $9, retryable = $10
        WHERE request_id = $1 AND name = $2 AND attempt = $3`,
        [
          op.requestId,
          op.stage,
          plan.attempt,
          plan.status,
          op.at,
          plan.durationMs,
          plan.output,
          plan.errorMessage,
          plan.errorDetails,
          plan.retryable,
        ],
      );
    }
    const e = plan.event;
    await this.sql.run(INSERT_EVENT, [
      op.requestId,
      op.at,
      e.type,
      e.stage,
      e.severity,
      e.message,
      e.data,
    ]);
    this.emit("stage.updated", op.requestId, found, op.at, plan.change);
    return { ok: true };
  }

  private async event(op: EventOp): Promise<OpResult> {
    const values = [
      op.requestId,
      op.at,
      op.eventType,
      op.stage,
      op.severity,
      op.message,
      toJsonText(op.data),
    ];
    if (!this.captureChanges) {
      const inserted = await this.sql.run(
        `INSERT INTO events (request_id, ts, type, stage, severity, message, data)
        SELECT $1, $2, $3, $4, $5, $6, $7
        WHERE EXISTS (SELECT 1 FROM requests WHERE id = $1 AND deleted_at IS NULL)`,
        values,
      );
      return inserted === 1 ? { ok: true } : { ok: false, error: new NotFoundError(op.requestId) };
    }
    const scope = await this.sql.row<StatusScope>(
      `SELECT ${SCOPE_COLUMNS} FROM requests WHERE id = $1 AND deleted_at IS NULL`,
      [op.requestId],
    );
    if (!scope) return { ok: false, error: new NotFoundError(op.requestId) };
    await this.sql.run(INSERT_EVENT, values);
    this.emit("event.logged", op.requestId, scope, op.at, {
      type: op.eventType,
      severity: op.severity,
      message: op.message,
      stage: op.stage,
    });
    return { ok: true };
  }

  private async cost(op: CostOp): Promise<OpResult> {
    const scope = await this.sql.row<StatusScope>(
      `UPDATE requests SET cost_micros = cost_micros + $1, updated_at = $2
      WHERE id = $3 AND deleted_at IS NULL RETURNING ${SCOPE_COLUMNS}`,
      [op.amountMicros, op.at, op.requestId],
    );
    if (!scope) return { ok: false, error: new NotFoundError(op.requestId) };
    this.emit("request.updated", op.requestId, scope, op.at, {
      costAddedMicros: op.amountMicros,
      service: op.service,
    });
    await this.sql.run(
      `INSERT INTO costs (request_id, ts, service, amount_micros, usage, stage)
      VALUES ($1, $2, $3, $4, $5, $6)`,
      [op.requestId, op.at, op.service, op.amountMicros, toJsonText(op.usage), op.stage],
    );
    return { ok: true };
  }

  private async softDelete(op: DeleteOp): Promise<OpResult> {
    const scope = await this.sql.row<StatusScope>(
      `UPDATE requests SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL
      RETURNING ${SCOPE_COLUMNS}`,
      [op.at, op.requestId],
    );
    if (scope) {
      this.emit("request.updated", op.requestId, scope, op.at, { deleted: true });
      return { ok: true };
    }
    // Deleting twice is a no-op; deleting what never existed is not.
    const exists = await this.sql.row("SELECT 1 FROM requests WHERE id = $1", [op.requestId]);
    return exists ? { ok: true } : { ok: false, error: new NotFoundError(op.requestId) };
  }

  private async increment(op: IncrementOp): Promise<OpResult> {
    // Counters are JSON text like every JSON column here; jsonb does the arithmetic.
    const scope = await this.sql.row<StatusScope>(
      `UPDATE requests SET counters = (counters::jsonb || jsonb_build_object($1::text,
        coalesce((counters::jsonb ->> $1::text)::numeric, 0) + $2::numeric))::text,
      updated_at = $3 WHERE id = $4 AND deleted_at IS NULL RETURNING ${SCOPE_COLUMNS}`,
      [op.counter, op.by, op.at, op.requestId],
    );
    if (!scope) return { ok: false, error: new NotFoundError(op.requestId) };
    this.emit("request.updated", op.requestId, scope, op.at, { counter: op.counter, by: op.by });
    return { ok: true };
  }
}

function outcome(before: LifecycleState, after: LifecycleState, noop: boolean) {
  return {
    from: before.status,
    to: after.status,
    noop,
    attempts: after.attempts,
    queueMs: after.queueMs,
    durationMs: after.durationMs,
    errorMessage: after.errorMessage,
  };
}
