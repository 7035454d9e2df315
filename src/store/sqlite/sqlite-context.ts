import type Database from "better-sqlite3";
import { type ContextColumns, type ContextPlan, planContext } from "../../core/request-context.js";
import type { ContextOp } from "../../core/ops.js";
import type { RequestStatus } from "../../core/types.js";
import type { SqliteRollups } from "./sqlite-rollups.js";

/** The request a context change found, with what its change event carries. */
export interface ContextChange {
  plan: ContextPlan;
  scope: { status: RequestStatus; tenantId: string | null; kind: string | null };
}

/**
 * `setContext` on SQLite (see `planContext`): the new tenant, session and user, with the
 * request's rollup contribution moved to them first, while the rows still name the old ones.
 */
export class SqliteContextWriter {
  private readonly select: Database.Statement;
  private readonly update: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly rollups: SqliteRollups,
  ) {
    this.select = db.prepare(`SELECT tenant_id, session_id, user_id, status, kind FROM requests
      WHERE id = ? AND deleted_at IS NULL`);
    this.update = db.prepare(`UPDATE requests SET tenant_id = @tenant_id,
      session_id = @session_id, user_id = @user_id, updated_at = @at WHERE id = @id`);
  }

  /** Applies `op`; null when the request does not exist. Domain errors throw before writing. */
  apply(op: ContextOp): ContextChange | null {
    const row = this.select.get(op.requestId) as
      (ContextColumns & { status: RequestStatus; kind: string | null }) | undefined;
    if (!row) return null;
    const plan = planContext(op.requestId, row, op);
    if (plan.moves) {
      this.rollups.requestMoved(op.requestId, plan.columns.tenant_id, plan.columns.session_id);
    }
    this.update.run({ ...plan.columns, id: op.requestId, at: op.at });
    return {
      plan,
      scope: { status: row.status, tenantId: plan.columns.tenant_id, kind: row.kind },
    };
  }
}
