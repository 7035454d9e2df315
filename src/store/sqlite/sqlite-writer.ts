import type Database from "better-sqlite3";
import { IdConflictError, NotFoundError, ReqtrackError } from "../../core/errors.js";
import {
  createdState,
  type LifecycleState,
  planRequeue,
  planTransition,
  transitionOutcome,
} from "../../core/lifecycle.js";
import {
  type ChangeEvent,
  type CreateOp,
  type FinishedOp,
  isSameTenantDuplicate,
  type Op,
  type OpResult,
  type RequeueOp,
  type SweepChange,
  type TransitionOp,
  withinTenant,
} from "../../core/ops.js";
import type { NewRequest } from "../../core/ops.js";
import {
  INSERTED_COLUMNS,
  LIFECYCLE_READ,
  LIFECYCLE_WRITTEN,
  newRequestRow,
  writeLifecycle,
} from "../../core/request-fields.js";
import { type RequestRow, toRequestRecord } from "../rows.js";
import { activeStageOf, type EventRow, type StageRun } from "../../core/stage-lifecycle.js";
import { requeueReason, requeueRecord, transitionRecord } from "../../core/status-records.js";
import { type Scope, SqliteChanges } from "./sqlite-changes.js";
import { SqliteContextWriter } from "./sqlite-context.js";
import { SqliteDetailWriter } from "./sqlite-detail-writer.js";
import { SqliteRollups } from "./sqlite-rollups.js";

/** A request's lifecycle state and its scope, each column named as the state names it. */
const LIFECYCLE_COLUMNS = [
  ...LIFECYCLE_READ.map(({ state, column }) =>
    state === column ? column : `${column} AS ${state}`,
  ),
  "tenant_id AS tenantId, kind, source, session_id AS sessionId",
].join(", ");

type ScopedState = LifecycleState & Scope;

/** Applies ops to SQLite with prepared statements; called inside the store's transaction. */
export class SqliteWriter {
  private readonly insertRequest: Database.Statement;
  private readonly insertFinished: Database.Statement;
  private readonly selectRow: Database.Statement;
  private readonly insertTag: Database.Statement;
  private readonly selectLifecycle: Database.Statement;
  private readonly updateLifecycle: Database.Statement;
  private readonly selectStageRuns: Database.Statement;
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
    this.insertRequest = db.prepare(insertStatement(INSERTED_COLUMNS));
    // A finished call's row, inserted already ended (see `finished`).
    this.insertFinished = db.prepare(insertStatement(FINISHED_COLUMNS));
    this.selectRow = db.prepare("SELECT * FROM requests WHERE id = ?");
    this.insertTag = db.prepare(
      "INSERT INTO request_tags (tag, request_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
    );
    this.selectLifecycle = db.prepare(
      `SELECT ${LIFECYCLE_COLUMNS} FROM requests WHERE id = ? AND deleted_at IS NULL`,
    );
    this.updateLifecycle = db.prepare(`UPDATE requests SET
      ${LIFECYCLE_WRITTEN.map(({ state, column }) => `${column} = @${state}`).join(", ")},
      updated_at = @at WHERE id = @id`);
    // The runs `activeStageOf` picks the stage a failing run stopped in from.
    this.selectStageRuns = db.prepare(
      `SELECT name, attempt, status, started_at AS startedAt FROM stages
      WHERE request_id = ? AND status IN ('running', 'failed') AND started_at >= ?`,
    );
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
      case "finished":
        return this.finished(op);
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
    const activeStage = this.activeStage(op.requestId, state);
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
    if (inserted.changes === 0) return this.duplicate(op);
    this.created(r);
    return { ok: true, duplicate: false };
  }

  /** A create whose id is taken: the stored request (a resend), else a conflict. */
  private duplicate(op: CreateOp): OpResult {
    const existing = this.selectRow.get(op.request.id) as RequestRow;
    if (!isSameTenantDuplicate(op, existing.tenant_id)) {
      return { ok: false, error: new IdConflictError(op.request.id) };
    }
    return { ok: true, duplicate: true, created: toRequestRecord(existing) };
  }

  /** What a new request's row brings with it: tags, its first event, rollups, a change. */
  private created(r: NewRequest): void {
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
  }

  /**
   * A call created, started and ended in this batch: the lifecycle is planned in memory
   * with the same rules, and the row inserted as it ends, with the three ops' events,
   * rollups and changes (one INSERT where the three ops took an INSERT, two SELECTs and two
   * UPDATEs). A brand-new request has no stages, so the end fails none. When the id is
   * taken, the three ops run one by one, as if never folded.
   */
  private finished(op: FinishedOp): OpResult {
    const r = op.create.request;
    const pending = createdState(r);
    const running = planTransition(pending, op.start).next;
    const ended = planTransition(running, op.end).next;
    const inserted = this.insertFinished.run({
      ...writeLifecycle(newRequestRow(r), ended),
      updated_at: op.end.at,
    });
    if (inserted.changes === 0) {
      const parts = [op.create, op.start, op.end].map((part) => this.apply(part));
      return { ok: true, parts };
    }
    this.created(r);
    this.rollups.requestChanged(r.id, pending, running);
    this.transitioned(op.start, { ...pending, tenantId: r.tenantId, kind: r.kind }, running);
    this.rollups.requestChanged(r.id, running, ended);
    this.transitioned(op.end, { ...running, tenantId: r.tenantId, kind: r.kind }, ended);
    return {
      ok: true,
      parts: [
        { ok: true, duplicate: false },
        { ok: true, transition: transitionOutcome(pending, running, false) },
        { ok: true, transition: transitionOutcome(running, ended, false) },
      ],
    };
  }

  private transition(op: TransitionOp): OpResult {
    const state = this.selectLifecycle.get(op.requestId) as ScopedState | undefined;
    if (!state) return { ok: false, error: new NotFoundError(op.requestId) };
    const ending = op.to === "failed" || op.to === "timeout" || op.to === "cancelled";
    const activeStage =
      ending && state.status === "running" ? this.activeStage(op.requestId, state) : null;
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
      this.transitioned(op, state, next);
    }
    return { ok: true, transition: transitionOutcome(state, next, noop) };
  }

  /** A status change's event and change record. */
  /** The stage the running request `id` stopped in, if it fails now (see `activeStageOf`). */
  private activeStage(id: string, state: LifecycleState): string | null {
    const since = state.startedAt ?? 0;
    return activeStageOf(this.selectStageRuns.all(id, since) as StageRun[], since);
  }

  private transitioned(op: TransitionOp, state: ScopedState, next: LifecycleState): void {
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

  private writeEvent(requestId: string, at: number, e: EventRow): void {
    this.insertEvent.run(requestId, at, e.type, e.stage, e.severity, e.message, e.data);
  }
}

/** An insert of `columns`, each bound by its own name; a taken id inserts nothing. */
function insertStatement(columns: readonly string[]): string {
  return `INSERT INTO requests (${columns.join(", ")})
    VALUES (${columns.map((c) => `@${c}`).join(", ")}) ON CONFLICT (id) DO NOTHING`;
}

/** A new request's columns and the ended lifecycle's, updated_at last: a finished call's row. */
const FINISHED_COLUMNS = [
  ...new Set([...INSERTED_COLUMNS, ...LIFECYCLE_WRITTEN.map((x) => x.column), "updated_at"]),
];
