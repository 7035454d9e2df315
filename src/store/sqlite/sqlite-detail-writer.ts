import type Database from "better-sqlite3";
import { NotFoundError } from "../../core/errors.js";
import { toJsonText } from "../../core/json.js";
import { type AnnotatedColumns, planAnnotation } from "../../core/annotation.js";
import type {
  AnnotateOp,
  CostOp,
  DeleteOp,
  EventOp,
  IncrementOp,
  OpResult,
  StageOp,
} from "../../core/ops.js";
import type { RequestStatus } from "../../core/types.js";
import { type EventRow, planStage } from "../../core/stage-lifecycle.js";
import type { Scope, SqliteChanges, StatusScope } from "./sqlite-changes.js";
import type { SqliteRollups } from "./sqlite-rollups.js";

/** The request's status with the latest attempt of one of its stages (nulls when none). */
interface StageState extends Scope {
  status: RequestStatus;
  stageStatus: string | null;
  attempt: number;
  startedAt: number;
}

/**
 * The ops that add to a request without moving its status: stages, logged events, costs,
 * counters, annotations and the soft delete. Called inside the store's transaction; like
 * `SqliteWriter`, it returns domain errors before writing anything.
 */
export class SqliteDetailWriter {
  private readonly selectStageState: Database.Statement;
  private readonly insertStage: Database.Statement;
  private readonly finishStage: Database.Statement;
  private readonly insertEvent: Database.Statement;
  private readonly selectScope: Database.Statement;
  private readonly insertEventIfExists: Database.Statement;
  private readonly insertCost: Database.Statement;
  private readonly addCost: Database.Statement;
  private readonly incrementCounter: Database.Statement;
  private readonly markDeleted: Database.Statement;
  private readonly selectExists: Database.Statement;
  private readonly selectAnnotated: Database.Statement;
  private readonly updateAnnotated: Database.Statement;
  private readonly insertTag: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly rollups: SqliteRollups,
    private readonly changes: SqliteChanges,
  ) {
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
    this.selectExists = db.prepare("SELECT 1 FROM requests WHERE id = ?").pluck();
    this.selectAnnotated = db.prepare(`SELECT intent, entities, tags, input, status,
      tenant_id AS tenantId, kind FROM requests WHERE id = ? AND deleted_at IS NULL`);
    this.updateAnnotated = db.prepare(`UPDATE requests SET intent = @intent,
      entities = @entities, tags = @tags, input = @input, updated_at = @at WHERE id = @id`);
    this.insertTag = db.prepare(
      "INSERT INTO request_tags (tag, request_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
    );
  }

  private writeEvent(requestId: string, at: number, e: EventRow): void {
    this.insertEvent.run(requestId, at, e.type, e.stage, e.severity, e.message, e.data);
  }

  stage(op: StageOp): OpResult {
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
    this.changes.emit("stage.updated", op.requestId, found, op.at, plan.change);
    return { ok: true };
  }

  event(op: EventOp): OpResult {
    if (!this.changes.capture) {
      const inserted = this.insertEventIfExists.run({ ...op, data: toJsonText(op.data) });
      return inserted.changes === 1
        ? { ok: true }
        : { ok: false, error: new NotFoundError(op.requestId) };
    }
    const scope = this.selectScope.get(op.requestId) as StatusScope | undefined;
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
    this.changes.emit("event.logged", op.requestId, scope, op.at, {
      type: op.eventType,
      severity: op.severity,
      message: op.message,
      stage: op.stage,
    });
    return { ok: true };
  }

  cost(op: CostOp): OpResult {
    const scope = this.addCost.get(op.amountMicros, op.at, op.requestId) as StatusScope | undefined;
    if (!scope) return { ok: false, error: new NotFoundError(op.requestId) };
    this.changes.emit("request.updated", op.requestId, scope, op.at, {
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

  softDelete(op: DeleteOp): OpResult {
    const scope = this.markDeleted.get({ at: op.at, id: op.requestId }) as StatusScope | undefined;
    if (scope) {
      this.changes.emit("request.updated", op.requestId, scope, op.at, { deleted: true });
      return { ok: true };
    }
    // Deleting twice is a no-op; deleting what never existed is not.
    const exists = this.selectExists.get(op.requestId) !== undefined;
    return exists ? { ok: true } : { ok: false, error: new NotFoundError(op.requestId) };
  }

  annotate(op: AnnotateOp): OpResult {
    const row = this.selectAnnotated.get(op.requestId) as
      (AnnotatedColumns & StatusScope) | undefined;
    if (!row) return { ok: false, error: new NotFoundError(op.requestId) };
    const plan = planAnnotation(row, op);
    this.updateAnnotated.run({ ...plan.columns, id: op.requestId, at: op.at });
    for (const tag of plan.addedTags) this.insertTag.run(tag, op.requestId);
    this.writeEvent(op.requestId, op.at, plan.event);
    this.changes.emit("request.updated", op.requestId, row, op.at, plan.change);
    return { ok: true };
  }

  increment(op: IncrementOp): OpResult {
    const scope = this.incrementCounter.get({
      id: op.requestId,
      counter: op.counter,
      by: op.by,
      at: op.at,
    }) as StatusScope | undefined;
    if (!scope) return { ok: false, error: new NotFoundError(op.requestId) };
    this.changes.emit("request.updated", op.requestId, scope, op.at, {
      counter: op.counter,
      by: op.by,
    });
    return { ok: true };
  }
}
