import type Database from "better-sqlite3";
import type { RequestFilter } from "../../core/types.js";
import { COUNT_CAP, countStatuses, rollupCount } from "../list-total.js";
import type { SqliteAnalytics } from "./sqlite-analytics.js";
import { prepared } from "./prepared.js";

/** A list's total: exact, or (`exact: false`) a lower bound. */
export interface ListTotal {
  total: number;
  exact: boolean;
}

/**
 * The total of a request list without counting a million rows. A filter the rollups keep
 * (status, tenant, kind, from, to) is counted from them, less its soft-deleted matches;
 * any other (user, channel, session, parent, tag: each with its own index) is counted row by
 * row up to COUNT_CAP, and past it the answer is that lower bound, not exact.
 */
export class SqliteListCount {
  constructor(
    private readonly db: Database.Database,
    private readonly analytics: SqliteAnalytics,
  ) {}

  /** `where` and `params`: the list's own conditions (no cursor), as listRequests built them. */
  total(filter: RequestFilter, where: string, params: readonly unknown[]): ListTotal {
    const count = rollupCount(filter);
    if (count) {
      const points = this.analytics.seriesNow(count.range, "day", count.scope, false);
      const all = countStatuses(points, count.statuses);
      return { total: filter.includeDeleted ? all : all - this.deleted(filter), exact: true };
    }
    const counted = prepared(
      this.db,
      `SELECT count(*) FROM (SELECT 1 FROM requests${where} LIMIT ${COUNT_CAP + 1})`,
    )
      .pluck()
      .get(...params) as number;
    return counted > COUNT_CAP
      ? { total: COUNT_CAP, exact: false }
      : { total: counted, exact: true };
  }

  /** Soft-deleted requests matching a rollup-countable filter, through their partial index. */
  private deleted(filter: RequestFilter): number {
    const where = ["deleted_at IS NOT NULL"];
    const params: unknown[] = [];
    if (filter.status !== undefined) {
      const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
      where.push(`status IN (${statuses.map(() => "?").join(", ")})`);
      params.push(...statuses);
    }
    for (const [value, sql] of [
      [filter.tenantId, "tenant_id = ?"],
      [filter.kind, "kind = ?"],
      [filter.from?.getTime(), "created_at >= ?"],
      [filter.to?.getTime(), "created_at < ?"],
    ] as const) {
      if (value === undefined) continue;
      where.push(sql);
      params.push(value);
    }
    return prepared(
      this.db,
      `SELECT count(*) FROM requests INDEXED BY requests_deleted WHERE ${where.join(" AND ")}`,
    )
      .pluck()
      .get(...params) as number;
  }
}
