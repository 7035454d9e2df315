import type Database from "better-sqlite3";
import { IdConflictError, NotFoundError, ReqtrackError } from "../../core/errors.js";
import { toJsonText } from "../../core/json.js";
import {
  type LifecycleState,
  planRequeue,
  planTransition,
  transitionOutcome,
} from "../../core/lifecycle.js";
import { type AnnotatedColumns, planAnnotation } from "../../core/annotation.js";
import {
  type AnnotateOp,
  type ChangeEvent,
  type ContextOp,
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
import type { RequestStatus } from "../../core/types.js";
import { INSERTED_COLUMNS, newRequestRow } from "../../core/request-fields.js";
import { type RequestRow, toRequestRecord } from "../rows.js";
import { type EventRow, planStage } from "../../core/stage-lifecycle.js";
import { requeueReason, requeueRecord, transitionRecord } from "../../core/status-records.js";
import { SqliteContextWriter } from "./sqlite-context.js";
import { SqliteRollups } from "./sqlite-rollups.js";

const LIFECYCLE_COLUMNS = `status, created_at AS createdAt, started_at AS startedAt,
  completed_at AS completedAt, queue_ms AS queueMs, duration_ms AS durationMs, attempts,
  max_attempts AS maxAttempts, timeout_ms AS timeoutMs, worker_id AS workerId,
  lease_expires_at AS leaseExpiresAt, lease_ms AS leaseMs, result, error_message AS errorMessage,
  error_stage AS errorStage, error_details AS errorDetails, tenant_id AS tenantId, kind,
  source, session_id AS sessionId`;

/** Who a request belongs to, carried by every change event. */
interface Scope {
  tenantId: string | null;
  kind: string | null;
}

type ScopedState = LifecycleState & Scope;

/** The request's status with the latest attempt of one of its stages (nulls when none). */
interface StageState extends Scope {
  status: RequestStatus;
  stageStatus: string | null;
  attempt: number;
  startedAt: number;
}

/** Applies ops to SQLite with prepared statements; called inside the store's transaction. */
export class SqliteWriter {
  private readonly insertRequest: Database.Statement;
  private readonly selectRow: Database.Statement;
  private readonly insertTag: Database.Statement;
  private readonly selectLifecycle: Database.Statement;
  private readonly updateLifecycle: Database.Statement;
  private readonly selectRunningStage: Database.Statement;
  private readonly failRunningStages: Database.Statement;
  private readonly selectStageState: Database.Statement;
  private readonly insertStage: Database.Statement;
  private readonly finishStage: Database.Statement;
  private readonly insertEvent: Database.Statement;
  private readonly selectScope: Database.Statement;
  private readonly selectTenant: Database.Statement;
  private changes: ChangeEvent[] = [];
  /** Change events cost a little per op; they are recorded only while someone listens. */
  captureChanges = false;
  private readonly insertEventIfExists: Database.Statement;
  private readonly insertCost: Database.Statement;
  private readonly addCost: Database.Statement;
  private readonly incrementCounter: Database.Statement;
  private readonly recordOp: Database.Statement;
  private readonly forgetOp: Database.Statement;
  private readonly markDeleted: Database.Statement;
  private readonly selectAnnotated: Database.Statement;
  private readonly updateAnnotated: Database.Statement;
  /** Stats rollups, updated from hooks at the end of each change (see sqlite-rollups.ts). */
  readonly rollups: SqliteRollups;
  private readonly context: SqliteContextWriter;

  constructor(db: Database.Database) {
    this.rollups = new SqliteRollups(db);
    this.context = new SqliteContextWriter(db, this.rollups);
    this.insertRequest = db.prepare(`INSERT INTO requests (${INSERTED_COLUMNS.join(", ")})
      VALUES (${INSERTED_COLUMNS.map((c) => `@${c}`).join(", ")}) ON CONFLICT (id) DO NOTHING`);
    this.selectRow = db.prepare("SELECT * FROM requests WHERE id = ?");
    this.insertTag = db.prepare(
      "INSERT INTO request_tags (tag, request_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
    );
    this.selectLifecycle = db.prepare(
      `SELECT ${LIFECYCLE_COLUMNS} FROM requests WHERE id = ? AND deleted_at IS NULL`,
    );
    this.updateLifecycle = db.prepare(`UPDATE requests SET status = @status,
      started_at = @startedAt, completed_at = @completedAt, queue_ms = @queueMs,
      duration_ms = @durationMs, attempts = @attempts, worker_id = @workerId,
      lease_expires_at = @leaseExpiresAt, lease_ms = @leaseMs, result = @result, error_message = @errorMessage,
      error_stage = @errorStage, error_details = @errorDetails, updated_at = @at WHERE id = @id`);
    // The stage a failing run stopped in: the one still running, else the last that failed
    // during this run.
    this.selectRunningStage = db
      .prepare(
        `SELECT name FROM stages
      WHERE request_id = ? AND status IN ('running', 'failed') AND started_at >= ?
      ORDER BY status = 'running' DESC, started_at DESC, attempt DESC LIMIT 1`,
      )
      .pluck();
    this.failRunningStages = db.prepare(`UPDATE stages SET status = 'failed', completed_at = @at,
      duration_ms = @at - started_at, error_message = @message, retryable = @retryable
      WHERE request_id = @id AND status = 'running'`);
    this.selectStageState = db.prepare(`SELECT r.status AS status, r.tenant_id AS tenantId,
      r.kind AS kind, s.status AS stageStatus,
      s.attempt AS attempt, s.started_at AS startedAt
      FROM requests r LEFT JOIN stages s ON s.request_id = r.id AND s.name = ?
      WHERE r.id = ? AND r.deleted_at IS NULL ORDER BY s.attempt DESC LIMIT 1`);
    this.insertStage = db.prepare(`INSERT INTO stages (request_id, name, attempt, status,
      started_at) VALUES (?, ?, ?, 'running', ?)`);
    this.finishStage = db.prepare(`UPDATE stages SET status = @status, completed_at = @at,
      duration_ms = @durationMs, output = @output, error_message = @errorMessage,
      error_details = @errorDetails, retryable = @retryable
      WHERE request_id = @id AND name = @name AND attempt = @attempt`);
    this.insertEvent = db.prepare(`INSERT INTO events (request_id, ts, type, stage, severity,
      message, data) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.selectScope = db.prepare(`SELECT status, tenant_id AS tenantId, kind FROM requests
      WHERE id = ? AND deleted_at IS NULL`);
    this.selectTenant = db.prepare("SELECT tenant_id FROM requests WHERE id = ?").pluck();
    this.insertEventIfExists = db.prepare(`INSERT INTO events (request_id, ts, type, stage,
      severity, message, data) SELECT @requestId, @at, @eventType, @stage, @severity, @message,
      @data WHERE EXISTS (SELECT 1 FROM requests WHERE id = @requestId AND deleted_at IS NULL)`);
    this.insertCost = db.prepare(`INSERT INTO costs (request_id, ts, service, amount_micros,
      usage, stage, price) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.addCost = db.prepare(`UPDATE requests SET cost_micros = cost_micros + ?, updated_at = ?
      WHERE id = ? AND deleted_at IS NULL RETURNING status, tenant_id AS tenantId, kind`);
    // Counter names are validated as snake_case before they get here, so the JSON path is safe.
    this.incrementCounter = db.prepare(`UPDATE requests SET
      counters = json_set(counters, '$.' || @counter,
        coalesce(json_extract(counters, '$.' || @counter), 0) + @by),
      updated_at = @at WHERE id = @id AND deleted_at IS NULL
      RETURNING status, tenant_id AS tenantId, kind`);
    this.markDeleted = db.prepare(
      `UPDATE requests SET deleted_at = @at, updated_at = @at WHERE id = @id AND deleted_at IS NULL
      RETURNING status, tenant_id AS tenantId, kind`,
    );
    this.selectAnnotated = db.prepare(`SELECT intent, entities, tags, input, status,
      tenant_id AS tenantId, kind FROM requests WHERE id = ? AND deleted_at IS NULL`);
    this.updateAnnotated = db.prepare(`UPDATE requests SET intent = @intent,
      entities = @entities, tags = @tags, input = @input, updated_at = @at WHERE id = @id`);
    this.forgetOp = db.prepare("DELETE FROM applied_ops WHERE op_id = ?");
    this.recordOp = db.prepare(
      "INSERT INTO applied_ops (op_id, applied_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
    );
  }

  /** Records `opId` as applied; false when it already was (the op must be skipped). */
  markApplied(opId: string, at: number): boolean {
    return this.recordOp.run(opId, at).changes === 1;
  }

  unmarkApplied(opId: string): void {
    this.forgetOp.run(opId);
  }

  /**
   * Applies one op. Domain errors (unknown request, invalid transition) are returned, never
   * thrown, and always before anything is written: the store relies on this to run a batch
   * without a savepoint per op. Anything thrown is unexpected.
   */
  apply(op: Op): OpResult {
    try {
      return this.applyOp(op);
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
    scope: Scope & { status: RequestStatus },
    at: number,
    data: ChangeEvent["data"],
  ): void {
    if (!this.captureChanges) return;
    this.changes.push({
      type,
      requestId,
      tenantId: scope.tenantId,
      kind: scope.kind,
      status: scope.status,
      at,
      data,
    });
  }

  private applyOp(op: Op): OpResult {
    if (op.tenant !== undefined && op.type !== "create") {
      const tenantId = this.selectTenant.get(op.requestId) as string | null | undefined;
      if (tenantId !== undefined && !withinTenant(op, tenantId)) {
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
      case "annotate":
        return this.annotate(op);
      case "context":
        return this.setContext(op);
    }
  }

  /**
   * Gives a running request back to the queue (see `planRequeue`). Returns null when it is no
   * longer running on `workerId` (it finished, or another worker has it): nothing to do.
   */
  requeue(op: RequeueOp): SweepChange | null {
    const state = this.selectLifecycle.get(op.requestId) as ScopedState | undefined;
    if (!state || state.status !== "running") return null;
    if (op.workerId !== null && state.workerId !== op.workerId) return null;
    const activeStage =
      (this.selectRunningStage.get(op.requestId, state.startedAt ?? 0) as string | undefined) ??
      null;
    const { next } = planRequeue(state, op.at, op.reason, activeStage);
    this.updateLifecycle.run({ ...next, id: op.requestId, at: op.at });
    this.rollups.requestChanged(op.requestId, state, next);
    const record = requeueRecord(op, next, activeStage);
    this.rollups.runningStagesFailing(op.requestId, op.at);
    this.failRunningStages.run({
      id: op.requestId,
      at: op.at,
      message: requeueReason(op),
      retryable: 1,
    });
    this.writeEvent(op.requestId, op.at, record.event);
    this.emit(
      "request.updated",
      op.requestId,
      { ...state, status: next.status },
      op.at,
      record.change,
    );
    return record.sweep;
  }

  private create(op: CreateOp): OpResult {
    const r = op.request;
    const inserted = this.insertRequest.run(newRequestRow(r));
    if (inserted.changes === 0) {
      const existing = this.selectRow.get(r.id) as RequestRow;
      if (!isSameTenantDuplicate(op, existing.tenant_id)) {
        return { ok: false, error: new IdConflictError(r.id) };
      }
      return { ok: true, duplicate: true, created: toRequestRecord(existing) };
    }
    for (const tag of r.tags) this.insertTag.run(tag, r.id);
    this.emit("request.created", r.id, { ...r, status: "pending" }, r.createdAt, {
      userId: r.userId,
      priority: r.priority,
      lane: r.lane,
    });
    this.insertEvent.run(
      r.id,
      r.createdAt,
      "request_created",
      null,
      "info",
      "Request created",
      null,
    );
    this.rollups.requestCreated(r);
    return { ok: true, duplicate: false };
  }

  private transition(op: TransitionOp): OpResult {
    const state = this.selectLifecycle.get(op.requestId) as ScopedState | undefined;
    if (!state) return { ok: false, error: new NotFoundError(op.requestId) };
    const ending = op.to === "failed" || op.to === "timeout" || op.to === "cancelled";
    const activeStage =
      ending && state.status === "running"
        ? ((this.selectRunningStage.get(op.requestId, state.startedAt ?? 0) as
            string | undefined) ?? null)
        : null;
    const { next, noop } = planTransition(state, op, activeStage);
    if (noop && next === state) {
      return { ok: true, transition: transitionOutcome(state, next, true) };
    }
    this.updateLifecycle.run({ ...next, id: op.requestId, at: op.at });
    this.rollups.requestChanged(op.requestId, state, next);
    if (!noop) {
      if (ending) {
        this.rollups.runningStagesFailing(op.requestId, op.at);
        this.failRunningStages.run({
          id: op.requestId,
          at: op.at,
          message: next.errorMessage,
          retryable: op.to === "cancelled" ? 0 : 1,
        });
      }
      const record = transitionRecord(op, state, next);
      this.writeEvent(op.requestId, op.at, record.event);
      this.emit("request.updated", op.requestId, { ...state, status: op.to }, op.at, record.change);
    }
    return { ok: true, transition: transitionOutcome(state, next, noop) };
  }

  private writeEvent(requestId: string, at: number, e: EventRow): void {
    this.insertEvent.run(requestId, at, e.type, e.stage, e.severity, e.message, e.data);
  }

  private stage(op: StageOp): OpResult {
    const found = this.selectStageState.get(op.stage, op.requestId) as StageState | undefined;
    if (found === undefined) return { ok: false, error: new NotFoundError(op.requestId) };
    const plan = planStage(
      {
        requestStatus: found.status,
        stageStatus: found.stageStatus,
        attempt: found.attempt,
        startedAt: found.startedAt,
      },
      op,
    );
    if (plan.kind === "noop") return { ok: true };
    if (plan.kind === "start") {
      this.insertStage.run(op.requestId, op.stage, plan.attempt, op.at);
    } else {
      this.finishStage.run({
        id: op.requestId,
        name: op.stage,
        attempt: plan.attempt,
        status: plan.status,
        at: op.at,
        durationMs: plan.durationMs,
        output: plan.output,
        errorMessage: plan.errorMessage,
        errorDetails: plan.errorDetails,
        retryable: plan.retryable === null ? null : Number(plan.retryable),
      });
      this.rollups.stageFinished(op.requestId, op.stage, plan.status, plan.durationMs);
    }
    this.writeEvent(op.requestId, op.at, plan.event);
    this.emit("stage.updated", op.requestId, found, op.at, plan.change);
    return { ok: true };
  }

  private event(op: EventOp): OpResult {
    if (!this.captureChanges) {
      const inserted = this.insertEventIfExists.run({ ...op, data: toJsonText(op.data) });
      return inserted.changes === 1
        ? { ok: true }
        : { ok: false, error: new NotFoundError(op.requestId) };
    }
    const scope = this.selectScope.get(op.requestId) as
      (Scope & { status: RequestStatus }) | undefined;
    if (!scope) return { ok: false, error: new NotFoundError(op.requestId) };
    this.insertEvent.run(
      op.requestId,
      op.at,
      op.eventType,
      op.stage,
      op.severity,
      op.message,
      toJsonText(op.data),
    );
    this.emit("event.logged", op.requestId, scope, op.at, {
      type: op.eventType,
      severity: op.severity,
      message: op.message,
      stage: op.stage,
    });
    return { ok: true };
  }

  private cost(op: CostOp): OpResult {
    const scope = this.addCost.get(op.amountMicros, op.at, op.requestId) as
      (Scope & { status: RequestStatus }) | undefined;
    if (!scope) return { ok: false, error: new NotFoundError(op.requestId) };
    this.emit("request.updated", op.requestId, scope, op.at, {
      costAddedMicros: op.amountMicros,
      service: op.service,
    });
    this.insertCost.run(
      op.requestId,
      op.at,
      op.service,
      op.amountMicros,
      toJsonText(op.usage),
      op.stage,
      op.price ? JSON.stringify(op.price) : null, // issue 15: the price table's entry
    );
    this.rollups.costRecorded(op.requestId, op.service, op.amountMicros);
    return { ok: true };
  }

  private softDelete(op: DeleteOp): OpResult {
    const scope = this.markDeleted.get({ at: op.at, id: op.requestId }) as
      (Scope & { status: RequestStatus }) | undefined;
    if (scope) {
      this.emit("request.updated", op.requestId, scope, op.at, { deleted: true });
      return { ok: true };
    }
    // Deleting twice is a no-op; deleting what never existed is not.
    const exists = this.selectRow.get(op.requestId) !== undefined;
    return exists ? { ok: true } : { ok: false, error: new NotFoundError(op.requestId) };
  }

  private annotate(op: AnnotateOp): OpResult {
    const row = this.selectAnnotated.get(op.requestId) as
      (AnnotatedColumns & Scope & { status: RequestStatus }) | undefined;
    if (!row) return { ok: false, error: new NotFoundError(op.requestId) };
    const plan = planAnnotation(row, op);
    this.updateAnnotated.run({ ...plan.columns, id: op.requestId, at: op.at });
    for (const tag of plan.addedTags) this.insertTag.run(tag, op.requestId);
    this.writeEvent(op.requestId, op.at, plan.event);
    this.emit("request.updated", op.requestId, row, op.at, plan.change);
    return { ok: true };
  }

  private setContext(op: ContextOp): OpResult {
    const done = this.context.apply(op);
    if (!done) return { ok: false, error: new NotFoundError(op.requestId) };
    this.writeEvent(op.requestId, op.at, done.plan.event);
    this.emit("request.updated", op.requestId, done.scope, op.at, done.plan.change);
    return { ok: true };
  }

  private increment(op: IncrementOp): OpResult {
    const scope = this.incrementCounter.get({
      id: op.requestId,
      counter: op.counter,
      by: op.by,
      at: op.at,
    }) as (Scope & { status: RequestStatus }) | undefined;
    if (!scope) return { ok: false, error: new NotFoundError(op.requestId) };
    this.emit("request.updated", op.requestId, scope, op.at, { counter: op.counter, by: op.by });
    return { ok: true };
  }
}
