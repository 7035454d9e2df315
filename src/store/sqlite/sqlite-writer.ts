import type Database from "better-sqlite3";
import { IdConflictError, NotFoundError, ReqtrackError } from "../../core/errors.js";
import {
  type LifecycleState,
  planRequeue,
  planTransition,
  transitionOutcome,
} from "../../core/lifecycle.js";
import {
  type ChangeEvent,
  type CreateOp,
  isSameTenantDuplicate,
  type Op,
  type OpResult,
  type RequeueOp,
  type SweepChange,
  type TransitionOp,
  withinTenant,
} from "../../core/ops.js";
import { INSERTED_COLUMNS, newRequestRow } from "../../core/request-fields.js";
import { type RequestRow, toRequestRecord } from "../rows.js";
import type { EventRow } from "../../core/stage-lifecycle.js";
import { requeueReason, requeueRecord, transitionRecord } from "../../core/status-records.js";
import { type Scope, SqliteChanges } from "./sqlite-changes.js";
import { SqliteContextWriter } from "./sqlite-context.js";
import { SqliteDetailWriter } from "./sqlite-detail-writer.js";
import { SqliteRollups } from "./sqlite-rollups.js";

const LIFECYCLE_COLUMNS = `status, created_at AS createdAt, started_at AS startedAt,
  completed_at AS completedAt, queue_ms AS queueMs, duration_ms AS durationMs, attempts,
  max_attempts AS maxAttempts, timeout_ms AS timeoutMs, worker_id AS workerId,
  lease_expires_at AS leaseExpiresAt, lease_ms AS leaseMs, result, error_message AS errorMessage,
  error_stage AS errorStage, error_details AS errorDetails, tenant_id AS tenantId, kind,
  source, session_id AS sessionId`;

type ScopedState = LifecycleState & Scope;

/** Applies ops to SQLite with prepared statements; called inside the store's transaction. */
export class SqliteWriter {
  private readonly insertRequest: Database.Statement;
  private readonly selectRow: Database.Statement;
  private readonly insertTag: Database.Statement;
  private readonly selectLifecycle: Database.Statement;
  private readonly updateLifecycle: Database.Statement;
  private readonly selectRunningStage: Database.Statement;
  private readonly failRunningStages: Database.Statement;
  private readonly insertEvent: Database.Statement;
  private readonly selectTenant: Database.Statement;
  private readonly recordOp: Database.Statement;
  private readonly forgetOp: Database.Statement;
  private readonly changes = new SqliteChanges();
  /** Stages, events, costs, counters, annotations, deletes. */
  private readonly detail: SqliteDetailWriter;
  /** Tenant, session and user set after creation (`setContext`). */
  private readonly context: SqliteContextWriter;
  /** Stats rollups, updated from hooks at the end of each change (see sqlite-rollups.ts). */
  readonly rollups: SqliteRollups;

  constructor(db: Database.Database) {
    this.rollups = new SqliteRollups(db);
    this.detail = new SqliteDetailWriter(db, this.rollups, this.changes);
    this.context = new SqliteContextWriter(db, this.rollups, this.changes);
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
    this.insertEvent = db.prepare(`INSERT INTO events (request_id, ts, type, stage, severity,
      message, data) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.selectTenant = db.prepare("SELECT tenant_id FROM requests WHERE id = ?").pluck();
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

  /** Whether change events are recorded (only while someone listens). */
  set captureChanges(capture: boolean) {
    this.changes.capture = capture;
  }

  /** The change events recorded since the last call; the store attaches them to op results. */
  takeChanges(): ChangeEvent[] {
    return this.changes.take();
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
        return this.detail.stage(op);
      case "event":
        return this.detail.event(op);
      case "cost":
        return this.detail.cost(op);
      case "increment":
        return this.detail.increment(op);
      case "delete":
        return this.detail.softDelete(op);
      case "annotate":
        return this.detail.annotate(op);
      case "context":
        return this.context.apply(op);
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
    this.changes.emit(
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
    this.changes.emit("request.created", r.id, { ...r, status: "pending" }, r.createdAt, {
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
      this.changes.emit(
        "request.updated",
        op.requestId,
        { ...state, status: op.to },
        op.at,
        record.change,
      );
    }
    return { ok: true, transition: transitionOutcome(state, next, noop) };
  }

  private writeEvent(requestId: string, at: number, e: EventRow): void {
    this.insertEvent.run(requestId, at, e.type, e.stage, e.severity, e.message, e.data);
  }
}
