import { ForbiddenError, RequestEndedError } from "./errors.js";
import type { ContextOp } from "./ops.js";
import type { EventRow } from "./stage-lifecycle.js";
import { type JsonObject, type RequestStatus, TERMINAL_STATUSES } from "./types.js";

/** Who a request belongs to, as a driver stores it. */
export interface ContextColumns {
  tenant_id: string | null;
  session_id: string | null;
  user_id: string;
}

/** What a driver writes for `setContext`: the new columns, the history row, the live change. */
export interface ContextPlan {
  columns: ContextColumns;
  /** The tenant or session changed: the request's rollup contribution moves with it. */
  moves: boolean;
  event: EventRow;
  change: JsonObject;
}

/**
 * Plans `setContext` on a stored request, the same in every driver. Only while the request
 * has not ended (`RequestEndedError`): an ended request's cost and counts are settled where
 * they were. An op confined to a tenant (a tenant-scoped API key) may not hand the request
 * to another tenant (`ForbiddenError`). Throws before anything is written.
 */
export function planContext(
  requestId: string,
  current: ContextColumns & { status: string },
  op: ContextOp,
): ContextPlan {
  if (TERMINAL_STATUSES.has(current.status as RequestStatus)) {
    throw new RequestEndedError(requestId, current.status);
  }
  if (op.tenant !== undefined && op.tenantId !== undefined && op.tenantId !== op.tenant) {
    throw new ForbiddenError(`This API key is confined to tenant ${op.tenant}`);
  }
  const columns: ContextColumns = {
    tenant_id: op.tenantId === undefined ? current.tenant_id : op.tenantId,
    session_id: op.sessionId === undefined ? current.session_id : op.sessionId,
    user_id: op.userId ?? current.user_id,
  };
  const data: JsonObject = {};
  if (op.tenantId !== undefined) data.tenantId = op.tenantId;
  if (op.sessionId !== undefined) data.sessionId = op.sessionId;
  if (op.userId !== undefined) data.userId = op.userId;
  return {
    columns,
    moves: columns.tenant_id !== current.tenant_id || columns.session_id !== current.session_id,
    event: {
      type: "context_set",
      stage: null,
      severity: "info",
      message: `Context set: ${Object.keys(data).join(", ")}`,
      data: JSON.stringify(data),
    },
    change: { context: data },
  };
}
