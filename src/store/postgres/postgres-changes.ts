import type { ChangeEvent } from "../../core/ops.js";
import type { RequestStatus } from "../../core/types.js";
import type { RequestRow } from "../rows.js";

/**
 * The change events a PostgreSQL batch records, for the live stream. They cost a little per
 * op, so they are recorded only while someone listens (`capture`). Queue ops' answers carry
 * no op result: their changes are taken from here (`take`).
 */
export class PostgresChangeLog {
  private emitted: ChangeEvent[] = [];

  constructor(private readonly capture: boolean) {}

  /** Records one change of `row`; undefined when nobody listens. */
  record(
    type: ChangeEvent["type"],
    row: RequestRow,
    at: number,
    data: ChangeEvent["data"],
  ): ChangeEvent[] | undefined {
    if (!this.capture) return undefined;
    const status = row.status as RequestStatus;
    const change = {
      type,
      requestId: row.id,
      tenantId: row.tenant_id,
      kind: row.kind,
      status,
      at,
      data,
    };
    this.emitted.push(change);
    return [change];
  }

  /** The change events recorded since the last call. */
  take(): ChangeEvent[] {
    const taken = this.emitted;
    this.emitted = [];
    return taken;
  }
}
