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
import type { Sql } from "./pg-connection.js";

/** Replays and bulk replay jobs on PostgreSQL. */
export class PostgresReplays implements ReplayStore {
  constructor(
    private readonly sql: Sql,
    private readonly transaction: <T>(work: (sql: Sql) => Promise<T>) => Promise<T>,
  ) {}

  async copyStages(fromId: string, toId: string, names: readonly string[]): Promise<number> {
    return this.sql.run(
      `INSERT INTO stages (request_id, name, attempt, status, started_at, completed_at,
        duration_ms, output, reused_from)
      SELECT $1, s.name, 1, s.status, s.started_at, s.completed_at, s.duration_ms, s.output,
        s.request_id
      FROM stages s WHERE s.request_id = $2 AND s.status = 'completed'
        AND s.name = ANY($3::text[])
        AND s.attempt = (SELECT max(x.attempt) FROM stages x WHERE x.request_id = s.request_id
          AND x.name = s.name AND x.status = 'completed')
      ON CONFLICT DO NOTHING`,
      [toId, fromId, [...names]],
    );
  }

  async removeOrphanStages(id: string): Promise<void> {
    await this.sql.run(
      `DELETE FROM stages WHERE request_id = $1
      AND NOT EXISTS (SELECT 1 FROM requests WHERE id = $1)`,
      [id],
    );
  }

  async listReplays(
    id: string,
  ): Promise<{ id: string; status: RequestStatus; createdAt: number }[]> {
    return this.sql.rows(
      `SELECT id, status, created_at AS "createdAt" FROM requests
      WHERE replay_of = $1 AND deleted_at IS NULL ORDER BY created_at, id`,
      [id],
    );
  }

  async matchingIds(filter: ReplayFilter, limit: number): Promise<string[]> {
    const { where, values } = replayFilterWhere(filter, (i) => `$${i}`);
    const rows = await this.sql.rows<{ id: string }>(
      `SELECT id FROM requests WHERE ${where} ORDER BY created_at, id LIMIT $${values.length + 1}`,
      [...values, limit],
    );
    return rows.map((r) => r.id);
  }

  async createJob(job: ReplayJobRow, items: readonly ReplayItem[]): Promise<void> {
    await this.transaction(async (sql) => {
      await sql.run(
        `INSERT INTO replay_jobs (id, filter, options, status, total, done, error, created_at,
        updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          job.id,
          JSON.stringify(job.filter),
          JSON.stringify(job.options),
          job.status,
          job.total,
          job.done,
          job.error,
          job.createdAt,
          job.updatedAt,
        ],
      );
      for (let i = 0; i < items.length; i += 5000) {
        const slice = items.slice(i, i + 5000);
        await sql.run(
          `INSERT INTO replay_job_items (job_id, seq, request_id, replay_id)
          SELECT $1, * FROM unnest($2::int4[], $3::text[], $4::text[])`,
          [
            job.id,
            slice.map((x) => x.seq),
            slice.map((x) => x.requestId),
            slice.map((x) => x.replayId),
          ],
        );
      }
    });
  }

  async getJob(id: string): Promise<ReplayJobRow | null> {
    const row = await this.sql.row<ReplayJobDbRow>("SELECT * FROM replay_jobs WHERE id = $1", [id]);
    return row ? fromJobRow(row) : null;
  }

  async listJobs(): Promise<ReplayJobRow[]> {
    const rows = await this.sql.rows<ReplayJobDbRow>(
      "SELECT * FROM replay_jobs ORDER BY created_at, id",
    );
    return rows.map(fromJobRow);
  }

  async pendingItems(jobId: string, limit: number): Promise<ReplayItem[]> {
    return this.sql.rows<ReplayItem>(
      `SELECT seq, request_id AS "requestId", replay_id AS "replayId" FROM replay_job_items
      WHERE job_id = $1 AND done_at IS NULL ORDER BY seq LIMIT $2`,
      [jobId, limit],
    );
  }

  async itemDone(jobId: string, seq: number, at: number): Promise<void> {
    await this.sql.run(
      `WITH marked AS (UPDATE replay_job_items SET done_at = $3
        WHERE job_id = $1 AND seq = $2 AND done_at IS NULL RETURNING job_id)
      UPDATE replay_jobs SET done = done + (SELECT count(*) FROM marked), updated_at = $3
      WHERE id = $1`,
      [jobId, seq, at],
    );
  }

  async setJobStatus(
    id: string,
    status: ReplayJobStatus,
    error: string | null,
    at: number,
  ): Promise<void> {
    await this.sql.run(
      "UPDATE replay_jobs SET status = $2, error = $3, updated_at = $4 WHERE id = $1",
      [id, status, error, at],
    );
  }

  async replayCostTotals(range: TimeRange, scope: CostScope, top: number): Promise<CostTotals> {
    let where = "r.replay_of IS NOT NULL AND r.created_at >= $1 AND r.created_at < $2";
    const values: (string | number)[] = [range.from, range.to];
    if (scope.tenantId !== undefined) {
      values.push(scope.tenantId);
      where += ` AND r.tenant_id = $${values.length}`;
    }
    if (scope.sessionId !== undefined) {
      values.push(scope.sessionId);
      where += ` AND r.session_id = $${values.length}`;
    }
    const rows = await this.sql.rows<ReplayCostRow>(
      `SELECT r.kind, r.tenant_id AS tenant, r.session_id AS session, count(*)::int8 AS requests,
      sum(r.cost_micros)::int8 AS "costMicros" FROM requests r WHERE ${where}
      GROUP BY r.kind, r.tenant_id, r.session_id`,
      values,
    );
    const byService = await this.sql.rows<CostTotals["byService"][number]>(
      `SELECT c.service, count(*)::int8 AS records, sum(c.amount_micros)::int8 AS "costMicros"
      FROM costs c JOIN requests r ON r.id = c.request_id WHERE ${where} GROUP BY c.service`,
      values,
    );
    return replayTotals(rows, byService, top);
  }
}
