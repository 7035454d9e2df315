import type Database from "better-sqlite3";
import { LANES, type Lane, type Request } from "../../core/types.js";
import { type DueKind, runSweepSync } from "../sweep-pass.js";
import type {
  AnyOp,
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

/** The rows picked for a run of claims with one filter, handed out one per claim. */
interface Picks {
  key: string;
  /** Index in the batch of the run's last claim. */
  last: number;
  /** How many claims the run holds; the rows are picked by its first claim. */
  count: number;
  rows: Candidate[] | null;
}

const filterKey = (op: ClaimOp) => JSON.stringify([op.kinds, op.tenantId ?? null]);
const earlier = (a: Candidate, b: Candidate) =>
  a.deadlineKey - b.deadlineKey || a.createdAt - b.createdAt;

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
  private picks: Picks | null = null;
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
    const order = `ORDER BY ${DEADLINE_KEY}, created_at LIMIT ?`;
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

  /**
   * Called before op `index` of a batch runs. Claims with one filter that follow each other
   * in a batch (a worker's slots claim in one turn) are a run: its first claim picks the rows
   * of the whole run in one statement per lane, and each claim of the run takes the next.
   * Nothing but those claims runs between the pick and the last of them, so no row can change
   * in between; any other op, or a new batch (index 0, also the retry of a rolled-back one),
   * ends the run.
   */
  before(ops: readonly AnyOp[], index: number): void {
    const op = ops[index];
    if (op?.type !== "claim") {
      this.picks = null;
      return;
    }
    const key = filterKey(op);
    if (index > 0 && this.picks?.key === key && index <= this.picks.last) return;
    let last = index;
    while (true) {
      const following = ops[last + 1];
      if (following?.type !== "claim" || filterKey(following) !== key) break;
      last++;
    }
    this.picks = { key, last, count: last - index + 1, rows: null };
  }

  /** The best pending request (lane, then earliest deadline, then oldest) becomes running. */
  private claim(op: ClaimOp): Request | null {
    const picks = this.picks ?? { key: "", last: 0, count: 1, rows: null };
    picks.rows ??= this.best(op.kinds, op.tenantId ?? null, picks.count);
    const candidate = picks.rows.shift();
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

  /** The best `limit` pending requests, in claim order: lane by lane, deadline, then age. */
  private best(kinds: string[] | null, tenantId: string | null, limit: number): Candidate[] {
    const picked: Candidate[] = [];
    for (const lane of LANES) {
      const left = limit - picked.length;
      if (left === 0) break;
      picked.push(...this.inLane(lane, kinds, tenantId, left));
    }
    return picked;
  }

  private inLane(
    lane: Lane,
    kinds: string[] | null,
    tenantId: string | null,
    limit: number,
  ): Candidate[] {
    if (kinds === null) {
      return (
        tenantId === null
          ? this.nextInLane.all(lane, limit)
          : this.nextOfTenantInLane.all(tenantId, lane, limit)
      ) as Candidate[];
    }
    // One statement per kind (each reads its own index range), merged in claim order.
    const found = kinds.flatMap(
      (kind) =>
        (tenantId === null
          ? this.nextOfKindInLane.all(kind, lane, limit)
          : this.nextOfTenantKindInLane.all(tenantId, kind, lane, limit)) as Candidate[],
    );
    return kinds.length === 1 ? found : found.sort(earlier).slice(0, limit);
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
