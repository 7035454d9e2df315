import type Database from "better-sqlite3";
import { LANES, type Lane, type Request } from "../../core/types.js";
import { sweepRecord } from "../../core/status-records.js";
import type {
  ClaimOp,
  HeartbeatOp,
  QueueOp,
  QueueResult,
  SweepChange,
  SweepOp,
  TransitionOp,
} from "../../core/ops.js";
import {
  type CostRow,
  type RequestRow,
  type StageRow,
  toCost,
  toRequestRecord,
  toStage,
} from "../rows.js";
import type { SqliteWriter } from "./sqlite-writer.js";

// Matches the expression of the requests_pending indexes, so "no deadline" sorts last.
const DEADLINE_KEY = "coalesce(deadline_at, 9007199254740991)";

interface Candidate {
  id: string;
  deadlineKey: number;
  createdAt: number;
}

/**
 * Queue operations on SQLite: claims, heartbeats and the watchdog's sweep. They run inside
 * the store's write transaction, and SQLite has one writer at a time, so two processes
 * can never claim the same request.
 */
export class SqliteQueue {
  private readonly nextInLane: Database.Statement;
  private readonly nextOfKindInLane: Database.Statement;
  private readonly nextOfTenantInLane: Database.Statement;
  private readonly nextOfTenantKindInLane: Database.Statement;
  private readonly selectRow: Database.Statement;
  private readonly selectStages: Database.Statement;
  private readonly selectCosts: Database.Statement;
  private readonly extendLease: Database.Statement;
  private readonly dueRunTimeouts: Database.Statement;
  private readonly expiredLeases: Database.Statement;
  private readonly passedDeadlines: Database.Statement;
  private readonly stalePending: Database.Statement;
  private readonly promote: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly writer: SqliteWriter,
  ) {
    const pending = "status = 'pending' AND deleted_at IS NULL";
    const pick = `SELECT id, ${DEADLINE_KEY} AS deadlineKey, created_at AS createdAt FROM requests`;
    const order = `ORDER BY ${DEADLINE_KEY}, created_at LIMIT 1`;
    this.nextInLane = db.prepare(`${pick} WHERE ${pending} AND lane = ? ${order}`);
    this.nextOfKindInLane = db.prepare(
      `${pick} WHERE ${pending} AND kind = ? AND lane = ? ${order}`,
    );
    this.nextOfTenantInLane = db.prepare(
      `${pick} WHERE ${pending} AND tenant_id = ? AND lane = ? ${order}`,
    );
    this.nextOfTenantKindInLane = db.prepare(
      `${pick} WHERE ${pending} AND tenant_id = ? AND kind = ? AND lane = ? ${order}`,
    );
    this.selectRow = db.prepare("SELECT * FROM requests WHERE id = ?");
    this.selectStages = db.prepare(
      "SELECT * FROM stages WHERE request_id = ? ORDER BY started_at, attempt, name",
    );
    this.selectCosts = db.prepare("SELECT * FROM costs WHERE request_id = ? ORDER BY id");
    this.extendLease = db.prepare(`UPDATE requests SET lease_expires_at = @at + lease_ms,
      updated_at = @at WHERE id = @id AND status = 'running' AND worker_id = @workerId
      AND lease_ms IS NOT NULL AND deleted_at IS NULL`);
    const ids = (where: string) =>
      db.prepare(`SELECT id FROM requests WHERE ${where} LIMIT ?`).pluck();
    this.dueRunTimeouts = ids("status = 'running' AND started_at + timeout_ms <= ?");
    this.expiredLeases = ids("status = 'running' AND lease_expires_at <= ?");
    this.passedDeadlines = ids("status = 'pending' AND deadline_at <= ? AND deleted_at IS NULL");
    this.stalePending = ids("status = 'pending' AND created_at <= ? AND deleted_at IS NULL");
    this.promote = db.prepare(`UPDATE requests SET lane = ?, lane_at = ?
      WHERE ${pending} AND lane = ? AND created_at <= ? AND lane_at <= ?`);
  }

  apply(op: QueueOp): QueueResult {
    switch (op.type) {
      case "claim":
        return { type: "claim", request: this.claim(op) };
      case "heartbeat":
        return { type: "heartbeat", alive: this.heartbeat(op) };
      case "requeue":
        return { type: "requeue", change: this.writer.requeue(op) };
      case "sweep":
        return { type: "sweep", result: this.sweep(op) };
    }
  }

  /** The best pending request (lane, then earliest deadline, then oldest) becomes running. */
  private claim(op: ClaimOp): Request | null {
    const candidate = this.best(op.kinds, op.tenantId ?? null);
    if (!candidate) return null;
    const started = this.writer.apply({
      type: "transition",
      opId: "",
      at: op.at,
      requestId: candidate.id,
      to: "running",
      workerId: op.workerId,
      leaseMs: op.leaseMs,
    });
    if (!started.ok) throw started.error;
    const record = toRequestRecord(this.selectRow.get(candidate.id) as RequestRow);
    // A first run has no stages yet; a retried one sees what its earlier runs did, and a
    // replay the stages it reuses (issue 15).
    const stages =
      record.attempts > 1 || record.replayOf !== null
        ? (this.selectStages.all(candidate.id) as StageRow[]).map(toStage)
        : [];
    const costs = (this.selectCosts.all(candidate.id) as CostRow[]).map(toCost);
    return { ...record, stages, costs };
  }

  private best(kinds: string[] | null, tenantId: string | null): Candidate | null {
    for (const lane of LANES) {
      let best: Candidate | null = null;
      for (const candidate of this.candidates(lane, kinds, tenantId)) {
        if (
          !best ||
          candidate.deadlineKey < best.deadlineKey ||
          (candidate.deadlineKey === best.deadlineKey && candidate.createdAt < best.createdAt)
        ) {
          best = candidate;
        }
      }
      if (best) return best;
    }
    return null;
  }

  private *candidates(
    lane: Lane,
    kinds: string[] | null,
    tenantId: string | null,
  ): Generator<Candidate> {
    if (kinds === null) {
      const found = (
        tenantId === null ? this.nextInLane.get(lane) : this.nextOfTenantInLane.get(tenantId, lane)
      ) as Candidate | undefined;
      if (found) yield found;
      return;
    }
    for (const kind of kinds) {
      const found = (
        tenantId === null
          ? this.nextOfKindInLane.get(kind, lane)
          : this.nextOfTenantKindInLane.get(tenantId, kind, lane)
      ) as Candidate | undefined;
      if (found) yield found;
    }
  }

  private heartbeat(op: HeartbeatOp): boolean {
    return (
      this.extendLease.run({ at: op.at, id: op.requestId, workerId: op.workerId }).changes === 1
    );
  }

  /**
   * One watchdog pass: runs past their time limit time out; expired leases go back to the
   * queue (or fail once attempts are used up); pending requests past their deadline time
   * out; pending requests older than `staleAfterMs` are cancelled as stale; starved ones
   * move up a lane. Run timeouts come before leases: a run that is both late and orphaned
   * has timed out, and gets no other attempt from its lease.
   */
  private sweep(op: SweepOp): { changes: SweepChange[]; promoted: number } {
    const changes: SweepChange[] = [];
    const end = (
      requestId: string,
      to: TransitionOp["to"],
      reason: SweepChange["reason"],
      message?: string,
    ) => {
      const result = this.writer.apply({
        type: "transition",
        opId: "",
        at: op.at,
        requestId,
        to,
        ...(message ? { error: { message } } : {}),
      });
      const change = sweepRecord(requestId, reason, result);
      if (change) changes.push(change);
    };
    for (const id of this.dueRunTimeouts.all(op.at, op.limit) as string[])
      end(id, "timeout", "timeout");
    for (const id of this.expiredLeases.all(op.at, op.limit) as string[]) {
      const change = this.writer.requeue({
        type: "requeue",
        at: op.at,
        requestId: id,
        workerId: null,
        reason: "lease_expired",
      });
      if (change) changes.push(change);
    }
    for (const id of this.passedDeadlines.all(op.at, op.limit) as string[]) {
      end(id, "timeout", "deadline", "Deadline passed before the request started");
    }
    if (op.staleAfterMs !== null) {
      for (const id of this.stalePending.all(op.at - op.staleAfterMs, op.limit) as string[]) {
        end(id, "cancelled", "stale", "stale");
      }
    }
    // normal -> high first, so that one pass never moves a request up two lanes.
    let promoted = 0;
    for (const [from, to] of [
      ["normal", "high"],
      ["low", "normal"],
    ] as const) {
      const wait = op.maxWaitMs[from];
      if (wait === undefined) continue;
      const bound = op.at - wait;
      promoted += this.promote.run(to, op.at, from, bound, bound).changes;
    }
    return { changes, promoted };
  }
}
