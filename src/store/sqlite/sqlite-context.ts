import type Database from "better-sqlite3";
import { NotFoundError } from "../../core/errors.js";
import type { ContextOp, OpResult } from "../../core/ops.js";
import { type ContextColumns, planContext } from "../../core/request-context.js";
import type { RequestStatus } from "../../core/types.js";
import type { SqliteChanges } from "./sqlite-changes.js";
import type { SqliteRollups } from "./sqlite-rollups.js";

/**
 * `setContext` on SQLite (see `planContext`): the new tenant, session and user, with the
 * request's rollup contribution moved to them first, while the rows still name the old ones.
 */
export class SqliteContextWriter {
  private readonly select: Database.Statement;
  private readonly update: Database.Statement;
  private readonly insertEvent: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly rollups: SqliteRollups,
    private readonly changes: SqliteChanges,
  ) {
    this.select = db.prepare(`SELECT tenant_id, session_id, user_id, status, kind FROM requests
      WHERE id = ? AND deleted_at IS NULL`);
    this.update = db.prepare(`UPDATE requests SET tenant_id = @tenant_id,
      session_id = @session_id, user_id = @user_id, updated_at = @at WHERE id = @id`);
    this.insertEvent = db.prepare(`INSERT INTO events (request_id, ts, type, stage, severity,
      message, data) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  }

  /** Applies `op`. Domain errors (ended, another tenant) throw before anything is written. */
  apply(op: ContextOp): OpResult {
    const row = this.select.get(op.requestId) as
      (ContextColumns & { status: RequestStatus; kind: string | null }) | undefined;
    if (!row) return { ok: false, error: new NotFoundError(op.requestId) };
    const plan = planContext(op.requestId, row, op);
    if (plan.moves) {
      this.rollups.requestMoved(op.requestId, plan.columns.tenant_id, plan.columns.session_id);
    }
    this.update.run({ ...plan.columns, id: op.requestId, at: op.at });
    const e = plan.event;
    this.insertEvent.run(op.requestId, op.at, e.type, e.stage, e.severity, e.message, e.data);
    const scope = { status: row.status, tenantId: plan.columns.tenant_id, kind: row.kind };
    this.changes.emit("request.updated", op.requestId, scope, op.at, plan.change);
    return { ok: true };
  }
}
