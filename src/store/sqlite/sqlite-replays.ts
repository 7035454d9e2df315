import type Database from "better-sqlite3";
import type { RequestStatus } from "../../core/types.js";
import type { CostScope, CostTotals, TimeRange } from "../analytics-store.js";
import {
  fromJobRow,
  type ReplayCostRow,
  type ReplayFilter,
  replayFilterWhere,
  type ReplayItem,
  type ReplayJobDbRow,
  type ReplayJobRow,
  type ReplayJobStatus,
  type ReplayStore,
  replayTotals,
} from "../replay-store.js";
import { prepared } from "./prepared.js";

/** Replays and bulk replay jobs on SQLite. */
export class SqliteReplays implements ReplayStore {
  constructor(
    private readonly db: Database.Database,
    private readonly write: <T>(fn: () => T) => Promise<T>,
  ) {}

  async copyStages(fromId: string, toId: string, names: readonly string[]): Promise<number> {
    const copy = this.db.prepare(`INSERT INTO stages (request_id, name, attempt, status,
      started_at, completed_at, duration_ms, output, reused_from)
      SELECT ?, s.name, 1, s.status, s.started_at, s.completed_at, s.duration_ms, s.output,
        s.request_id
      FROM stages s WHERE s.request_id = ? AND s.status = 'completed'
        AND s.name IN (SELECT value FROM json_each(?))
        AND s.attempt = (SELECT max(x.attempt) FROM stages x WHERE x.request_id = s.request_id
          AND x.name = s.name AND x.status = 'completed')
      ON CONFLICT DO NOTHING`);
    return (await this.write(() => copy.run(toId, fromId, JSON.stringify(names)))).changes;
  }

  async removeOrphanStages(id: string): Promise<void> {
    const remove = this.db.prepare(`DELETE FROM stages WHERE request_id = ?
      AND NOT EXISTS (SELECT 1 FROM requests WHERE id = ?)`);
    await this.write(() => remove.run(id, id));
  }

  async listReplays(
    id: string,
  ): Promise<{ id: string; status: RequestStatus; createdAt: number }[]> {
    // Prepared once: every GET of a request's detail runs it (preparing cost more than running).
    return prepared(
      this.db,
      `SELECT id, status, created_at AS createdAt FROM requests
      WHERE replay_of = ? AND deleted_at IS NULL ORDER BY created_at, id`,
    ).all(id) as { id: string; status: RequestStatus; createdAt: number }[];
  }

  async matchingIds(filter: ReplayFilter, limit: number): Promise<string[]> {
    const { where, values } = replayFilterWhere(filter, () => "?");
    return this.db
      .prepare(`SELECT id FROM requests WHERE ${where} ORDER BY created_at, id LIMIT ?`)
      .pluck()
      .all(...values, limit) as string[];
  }

  async createJob(job: ReplayJobRow, items: readonly ReplayItem[]): Promise<void> {
    const insertJob = this.db.prepare(`INSERT INTO replay_jobs (id, filter, options, status,
      total, done, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const insertItem = this.db.prepare(
      "INSERT INTO replay_job_items (job_id, seq, request_id, replay_id) VALUES (?, ?, ?, ?)",
    );
    const create = this.db.transaction(() => {
      insertJob.run(
        job.id,
        JSON.stringify(job.filter),
        JSON.stringify(job.options),
        job.status,
        job.total,
        job.done,
        job.error,
        job.createdAt,
        job.updatedAt,
      );
      for (const item of items) insertItem.run(job.id, item.seq, item.requestId, item.replayId);
    });
    await this.write(() => create.immediate());
  }

  async getJob(id: string): Promise<ReplayJobRow | null> {
    const row = this.db.prepare("SELECT * FROM replay_jobs WHERE id = ?").get(id) as
      ReplayJobDbRow | undefined;
    return row ? fromJobRow(row) : null;
  }

  async listJobs(): Promise<ReplayJobRow[]> {
    const rows = this.db
      .prepare("SELECT * FROM replay_jobs ORDER BY created_at, id")
      .all() as ReplayJobDbRow[];
    return rows.map(fromJobRow);
  }

  async pendingItems(jobId: string, limit: number): Promise<ReplayItem[]> {
    return this.db
      .prepare(
        `SELECT seq, request_id AS requestId, replay_id AS replayId FROM replay_job_items
        WHERE job_id = ? AND done_at IS NULL ORDER BY seq LIMIT ?`,
      )
      .all(jobId, limit) as ReplayItem[];
  }

  async itemDone(jobId: string, seq: number, at: number): Promise<void> {
    const mark = this.db.prepare(
      "UPDATE replay_job_items SET done_at = ? WHERE job_id = ? AND seq = ? AND done_at IS NULL",
    );
    const count = this.db.prepare(
      "UPDATE replay_jobs SET done = done + 1, updated_at = ? WHERE id = ?",
    );
    const done = this.db.transaction(() => {
      if (mark.run(at, jobId, seq).changes === 1) count.run(at, jobId);
    });
    await this.write(() => done.immediate());
  }

  async setJobStatus(
    id: string,
    status: ReplayJobStatus,
    error: string | null,
    at: number,
  ): Promise<void> {
    const set = this.db.prepare(
      "UPDATE replay_jobs SET status = ?, error = ?, updated_at = ? WHERE id = ?",
    );
    await this.write(() => set.run(status, error, at, id));
  }

  async replayCostTotals(range: TimeRange, scope: CostScope, top: number): Promise<CostTotals> {
    let where = "r.replay_of IS NOT NULL AND r.created_at >= ? AND r.created_at < ?";
    const values: (string | number)[] = [range.from, range.to];
    if (scope.tenantId !== undefined) {
      where += " AND r.tenant_id = ?";
      values.push(scope.tenantId);
    }
    if (scope.sessionId !== undefined) {
      where += " AND r.session_id = ?";
      values.push(scope.sessionId);
    }
    const rows = this.db
      .prepare(
        `SELECT r.kind AS kind, r.tenant_id AS tenant, r.session_id AS session,
        count(*) AS requests, sum(r.cost_micros) AS costMicros FROM requests r WHERE ${where}
        GROUP BY r.kind, r.tenant_id, r.session_id`,
      )
      .all(...values) as ReplayCostRow[];
    const byService = this.db
      .prepare(
        `SELECT c.service AS service, count(*) AS records, sum(c.amount_micros) AS costMicros
        FROM costs c JOIN requests r ON r.id = c.request_id WHERE ${where} GROUP BY c.service`,
      )
      .all(...values) as CostTotals["byService"];
    return replayTotals(rows, byService, top);
  }
}
