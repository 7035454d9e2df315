import type { ChangeEvent } from "../../core/ops.js";
import type { RequestStatus } from "../../core/types.js";

/** Who a request belongs to, carried by every change event. */
export interface Scope {
  tenantId: string | null;
  kind: string | null;
}

/** A request's scope with its status, as the change events of a write carry it. */
export type StatusScope = Scope & { status: RequestStatus };

/**
 * The change events a batch's writes record for live subscribers. They cost a little per op,
 * so they are recorded only while someone listens (`capture`).
 */
export class SqliteChanges {
  capture = false;
  private changes: ChangeEvent[] = [];

  emit(
    type: ChangeEvent["type"],
    requestId: string,
    scope: StatusScope,
    at: number,
    data: ChangeEvent["data"],
  ): void {
    if (!this.capture) return;
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

  /** The change events recorded since the last call. */
  take(): ChangeEvent[] {
    const taken = this.changes;
    this.changes = [];
    return taken;
  }
}
