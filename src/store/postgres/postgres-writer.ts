import { IdConflictError, NotFoundError, ReqtrackError } from "../../core/errors.js";
import { toJsonText } from "../../core/json.js";
import { planRequeue, planTransition, transitionOutcome } from "../../core/lifecycle.js";
import { planAnnotation } from "../../core/annotation.js";
import { type ContextPlan, planContext } from "../../core/request-context.js";
import {
  type AnnotateOp,
  type ChangeEvent,
  type ContextOp,
  type CostOp,
  type CreateOp,
  type DeleteOp,
  type EventOp,
  type FinishedOp,
  finishedAnswer,
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
import { lifecycleOfRow } from "../../core/request-fields.js";
import { planStage } from "../../core/stage-lifecycle.js";
import { requeueReason, requeueRecord, transitionRecord } from "../../core/status-records.js";
import type { RequestStatus } from "../../core/types.js";
import { toRequestRecord } from "../rows.js";
import type { Sql } from "./pg-connection.js";
import { PostgresChangeLog } from "./postgres-changes.js";
import { newRow } from "./postgres-batch-sql.js";
import {
  heldActiveStage,
  dimsOf,
  ending,
  type HeldStage,
  PostgresHeldBatch,
} from "./postgres-held-batch.js";
import type { PostgresRollups } from "./postgres-rollups.js";

/** A requeue's answer (null: the request was no longer running there). */
export type RequeueResult = SweepChange | null;

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
export class PostgresWriter extends PostgresHeldBatch {
  private readonly changes: PostgresChangeLog;

  constructor(
    sql: Sql,
    /** Change events cost a little per op; they are recorded only while someone listens. */
    captureChanges: boolean,
    rollups?: PostgresRollups,
  ) {
    super(sql, rollups);
    this.changes = new PostgresChangeLog(captureChanges);
  }

  /** Drops what was applied and not yet written (its savepoint was rolled back). */
  override discard(): void {
    super.discard();
    this.changes.take();
  }

  /** The change events recorded since the last call. */
  takeChanges(): ChangeEvent[] {
    return this.changes.take();
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
    const results: (OpResult | RequeueResult)[] = [];
    for (const op of ops) {
      results.push(op.type === "context" ? await this.planContextOp(op) : this.plan(op));
    }
    return results;
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

  private plan(op: Exclude<Op, ContextOp> | RequeueOp): OpResult | RequeueResult {
    if (op.type === "requeue") return this.planRequeue(op);
    try {
      return this.planOp(op);
    } catch (error) {
      if (error instanceof ReqtrackError) return { ok: false, error };
      throw error;
    }
  }

  private planOp(op: Exclude<Op, ContextOp>): OpResult {
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
      case "annotate":
        return this.annotate(op);
      case "finished":
        return this.finished(op);
    }
  }

  /**
   * `setContext` (see `planContext`). A move of tenant or session reads the request's stored
   * contribution to the rollups, so the batch's earlier writes go out first.
   */
  private async planContextOp(op: ContextOp): Promise<OpResult> {
    const held = this.live(op.requestId);
    if (!held || (op.tenant !== undefined && !withinTenant(op, held.row.tenant_id))) {
      return { ok: false, error: new NotFoundError(op.requestId) };
    }
    let plan: ContextPlan;
    try {
      plan = planContext(op.requestId, held.row, op);
    } catch (error) {
      if (error instanceof ReqtrackError) return { ok: false, error };
      throw error;
    }
    if (plan.moves) {
      await this.write();
      await this.rollups.moveRequest(op.requestId, plan.columns.tenant_id, plan.columns.session_id);
    }
    Object.assign(held.row, plan.columns, { updated_at: op.at });
    held.dirty = true;
    held.contexted = true;
    this.writes.events.push([op.requestId, op.at, plan.event]);
    const changes = this.changes.record("request.updated", held.row, op.at, plan.change);
    return changes ? { ok: true, changes } : { ok: true };
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
    const row = newRow(r);
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
    const changes = this.changes.record("request.created", row, r.createdAt, {
      userId: r.userId,
      priority: r.priority,
      lane: r.lane,
    });
    return changes ? { ok: true, duplicate: false, changes } : { ok: true, duplicate: false };
  }

  /**
   * A call created, started and ended in this batch: its three ops planned one after the
   * other on the held row, which is written once, already ended (as any run of ops on one
   * request is here). The answer carries each op's own, and their changes together.
   */
  private finished(op: FinishedOp): OpResult {
    return finishedAnswer([op.create, op.start, op.end].map((part) => this.plan(part) as OpResult));
  }

  private transition(op: TransitionOp): OpResult {
    const held = this.live(op.requestId);
    if (!held) return { ok: false, error: new NotFoundError(op.requestId) };
    const state = lifecycleOfRow(held.row);
    const isEnding = ending(op.to);
    const activeStage =
      isEnding && state.status === "running" ? heldActiveStage(held, state) : null;
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
    const changes = this.changes.record("request.updated", held.row, op.at, record.change);
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
    const state = lifecycleOfRow(held.row);
    const activeStage = heldActiveStage(held, state);
    const { next } = planRequeue(state, op.at, op.reason, activeStage);
    this.store(held, next, op.at);
    this.rollups.requestChanged(dimsOf(held.row), state, next);
    const record = requeueRecord(op, next, activeStage);
    this.failRunningStages(held, op.at, requeueReason(op), true);
    this.writes.events.push([op.requestId, op.at, record.event]);
    this.changes.record("request.updated", held.row, op.at, record.change);
    return record.sweep;
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
    const changes = this.changes.record("stage.updated", held.row, op.at, plan.change);
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
    const changes = this.changes.record("event.logged", held.row, op.at, {
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
    const changes = this.changes.record("request.updated", held.row, op.at, {
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
    const changes = this.changes.record("request.updated", held.row, op.at, {
      counter: op.counter,
      by: op.by,
    });
    return changes ? { ok: true, changes } : { ok: true };
  }

  private annotate(op: AnnotateOp): OpResult {
    const held = this.live(op.requestId);
    if (!held) return { ok: false, error: new NotFoundError(op.requestId) };
    const plan = planAnnotation(held.row, op);
    Object.assign(held.row, plan.columns, { updated_at: op.at });
    held.dirty = true;
    held.annotated = true;
    for (const tag of plan.addedTags) this.writes.tags.push([tag, op.requestId]);
    this.writes.events.push([op.requestId, op.at, plan.event]);
    const changes = this.changes.record("request.updated", held.row, op.at, plan.change);
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
    const changes = this.changes.record("request.updated", held.row, op.at, { deleted: true });
    return changes ? { ok: true, changes } : { ok: true };
  }
}
