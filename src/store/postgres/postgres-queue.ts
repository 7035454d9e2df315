import { type DueKind, runSweep } from "../sweep-pass.js";
import type {
  ChangeEvent,
  ClaimOp,
  HeartbeatOp,
  OpResult,
  QueueOp,
  QueueResult,
  SweepOp,
  SweepResult,
  TransitionOp,
} from "../../core/ops.js";
import { LANES, type Request, type RequestRecord } from "../../core/types.js";
import {
  type CostRow,
  type RequestRow,
  type StageRow,
  toCost,
  toRequestRecord,
  toStage,
} from "../rows.js";
import type { Sql } from "./pg-connection.js";
import type { PostgresWriter } from "./postgres-writer.js";

/** A pending row a claim picked, with its cost rows (as JSON objects of costs columns). */
type PickedRow = RequestRow & { cost_rows: CostRow[] | null };

/** What one claim got, and the changes that made (for live subscribers). */
export interface ClaimAnswer {
  request: Request | null;
  changes?: ChangeEvent[];
}

const RUNNING = "status = 'running'";
const PENDING = "status = 'pending' AND deleted_at IS NULL";

/** What each sweep step looks for: its condition (due at $1) and its order, oldest first. */
const DUE: Record<DueKind, { where: string; order: string }> = {
  run_timeout: {
    where: `${RUNNING} AND started_at + timeout_ms <= $1`,
    order: "started_at + timeout_ms",
  },
  lease: { where: `${RUNNING} AND lease_expires_at <= $1`, order: "lease_expires_at" },
  deadline: { where: `${PENDING} AND deadline_at <= $1`, order: "deadline_at" },
  stale: { where: `${PENDING} AND created_at <= $1`, order: "created_at" },
};

// Matches the expression of the requests_pending indexes, so "no deadline" sorts last.
const DEADLINE_KEY = "coalesce(deadline_at, 9007199254740991)";

/**
 * Queue operations on PostgreSQL: claims, heartbeats and the watchdog's sweep, inside the
 * store's batch transaction. Many servers claim at once, so every row a queue op is about to
 * change is picked with `FOR UPDATE SKIP LOCKED`: a row another transaction holds is passed
 * over (it is being claimed or swept there), never waited for, never taken twice.
 */
export class PostgresQueue {
  constructor(
    private readonly sql: Sql,
    private readonly writer: PostgresWriter,
  ) {}

  async apply(op: QueueOp): Promise<QueueResult> {
    switch (op.type) {
      case "claim":
        return { type: "claim", request: (await this.claimAll([op]))[0]?.request ?? null };
      case "heartbeat":
        return { type: "heartbeat", alive: await this.heartbeat(op) };
      case "requeue":
        return { type: "requeue", change: await this.writer.requeue(op) };
      case "sweep":
        return { type: "sweep", result: await this.sweep(op) };
    }
  }

  /**
   * Claims for several workers at once (the claims of one batch): claims with the same
   * filter pick their rows in one statement per lane (rows and costs together), and start
   * them in memory with the batch's other ops, written with them. Each claim gets the best
   * pending request left (lane, then earliest deadline, then oldest), or null.
   */
  async claimAll(ops: readonly ClaimOp[]): Promise<ClaimAnswer[]> {
    const answers: ClaimAnswer[] = [];
    const groups = new Map<string, number[]>();
    ops.forEach((op, i) => {
      const key = JSON.stringify([op.kinds, op.tenantId ?? null]);
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const indexes of groups.values()) {
      const first = ops[indexes[0] as number] as ClaimOp;
      // Requests the batch made pending must be in the table for the pick to see them; other
      // unwritten changes only need their requests left out of it (there they look pending).
      if (this.writer.hasUnwrittenPending()) await this.writer.write();
      const picked = await this.next(first.kinds, first.tenantId ?? null, indexes.length);
      this.writer.hold(picked);
      const claims = indexes.slice(0, picked.length).map((index, i) => {
        const op = ops[index] as ClaimOp;
        return {
          index,
          row: picked[i] as PickedRow,
          op: {
            type: "transition",
            opId: "",
            at: op.at,
            requestId: (picked[i] as PickedRow).id,
            to: "running",
            workerId: op.workerId,
            leaseMs: op.leaseMs,
          } satisfies TransitionOp,
        };
      });
      for (const index of indexes.slice(picked.length)) answers[index] = { request: null };
      if (claims.length === 0) continue;
      const results = await this.writer.apply(claims.map((claim) => claim.op));
      const records = claims.map(({ op }) =>
        toRequestRecord(this.writer.heldRow(op.requestId) as RequestRow),
      );
      // A first run has no stages yet; a retried one sees what its earlier runs did, and a
      // replay the stages it reuses (issue 15).
      const retried = records.filter((r) => r.attempts > 1 || r.replayOf !== null).map((r) => r.id);
      const stages =
        retried.length === 0
          ? []
          : await this.sql.rows<StageRow & { request_id: string }>(
              `SELECT * FROM stages WHERE request_id = ANY($1::text[])
              ORDER BY started_at, attempt, name`,
              [retried],
            );
      claims.forEach(({ index, row }, i) => {
        const result = results[i] as OpResult;
        if (!result.ok) throw result.error;
        const record = records[i] as RequestRecord;
        const request: Request = {
          ...record,
          stages: stages.filter((s) => s.request_id === record.id).map(toStage),
          costs: (row.cost_rows ?? []).map(toCost),
        };
        answers[index] = { request, changes: result.changes ?? [] };
      });
    }
    return answers;
  }

  /**
   * Lane by lane, up to `limit` pending rows no other transaction holds, locked for this one,
   * with their cost rows; none the batch changed without writing yet.
   */
  private async next(
    kinds: string[] | null,
    tenantId: string | null,
    limit: number,
  ): Promise<PickedRow[]> {
    const where = [
      "status = 'pending'",
      "deleted_at IS NULL",
      "lane = $1",
      "NOT (id = ANY($3::text[]))",
    ];
    const values: unknown[] = [limit, this.writer.unwrittenIds()];
    if (kinds !== null) {
      values.push(kinds);
      where.push(`kind = ANY($${values.length + 1}::text[])`);
    }
    if (tenantId !== null) {
      values.push(tenantId);
      where.push(`tenant_id = $${values.length + 1}`);
    }
    const sql = `SELECT r.*, (SELECT json_agg(c ORDER BY c.id) FROM costs c
      WHERE c.request_id = r.id) AS cost_rows
      FROM (SELECT * FROM requests WHERE ${where.join(" AND ")}
      ORDER BY ${DEADLINE_KEY}, created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) r`;
    const picked: PickedRow[] = [];
    for (const lane of LANES) {
      const rows = await this.sql.rows<PickedRow>(sql, [
        lane,
        limit - picked.length,
        ...values.slice(1),
      ]);
      picked.push(...rows);
      if (picked.length === limit) break;
    }
    return picked;
  }

  private async heartbeat(op: HeartbeatOp): Promise<boolean> {
    const changed = await this.sql.run(
      `UPDATE requests SET lease_expires_at = $1 + lease_ms, updated_at = $1
      WHERE id = $2 AND status = 'running' AND worker_id = $3
      AND lease_ms IS NOT NULL AND deleted_at IS NULL`,
      [op.at, op.requestId, op.workerId],
    );
    return changed === 1;
  }

  /** Up to `limit` ids matching `where`, oldest first, locked unless another sweep has them. */
  private async due(where: string, order: string, bound: number, limit: number) {
    const rows = await this.sql.rows<{ id: string }>(
      `SELECT id FROM requests WHERE ${where} ORDER BY ${order}, id LIMIT $2
      FOR UPDATE SKIP LOCKED`,
      [bound, limit],
    );
    return rows.map((row) => row.id);
  }

  /**
   * One watchdog pass (see `sweepPass`), its steps answered with this driver's SQL. Servers
   * may sweep at once; each takes the rows the others have not locked.
   */
  private async sweep(op: SweepOp): Promise<SweepResult> {
    return runSweep(op, async (step) => {
      switch (step.kind) {
        case "due": {
          const { where, order } = DUE[step.due];
          return this.due(where, order, step.bound, step.limit);
        }
        case "end":
          return this.writer.applyOne(step.op);
        case "requeue":
          return this.writer.requeue(step.op);
        case "promote":
          return this.sql.run(
            `UPDATE requests SET lane = $1, lane_at = $2
            WHERE ${PENDING} AND lane = $3 AND created_at <= $4 AND lane_at <= $4`,
            [step.to, step.at, step.from, step.bound],
          );
      }
    });
  }
}
