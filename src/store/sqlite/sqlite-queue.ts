import type Database from "better-sqlite3";
import { LANES, type Lane, type Request } from "../../core/types.js";
import { type DueKind, runSweepSync } from "../sweep-pass.js";
import type {
  ClaimOp,
  HeartbeatOp,
  QueueOp,
  QueueResult,
  SweepOp,
  SweepResult,
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
  /** The ids a sweep looks for, by what they are due for. */
  private readonly due: Record<DueKind, Database.Statement>;
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
    this.due = {
      run_timeout: ids("status = 'running' AND started_at + timeout_ms <= ?"),
      lease: ids("status = 'running' AND lease_expires_at <= ?"),
      deadline: ids("status = 'pending' AND deadline_at <= ? AND deleted_at IS NULL"),
      stale: ids("status = 'pending' AND created_at <= ? AND deleted_at IS NULL"),
    };
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

  /** One watchdog pass (see `sweepPass`), its steps answered with this driver's statements. */
  private sweep(op: SweepOp): SweepResult {
    return runSweepSync(op, (step) => {
      switch (step.kind) {
        case "due":
          return this.due[step.due].all(step.bound, step.limit) as string[];
        case "end":
          return this.writer.apply(step.op);
        case "requeue":
          return this.writer.requeue(step.op);
        case "promote":
          return this.promote.run(step.to, step.at, step.from, step.bound, step.bound).changes;
      }
    });
  }
}
