import type { RequestFilter } from "../../core/types.js";
import {
  cappedTotal,
  COUNT_CAP,
  countStatuses,
  deletedMatches,
  type ListTotal,
  rollupCount,
} from "../list-total.js";
import type { Sql } from "./pg-connection.js";
import type { PostgresAnalytics } from "./postgres-analytics.js";

/**
 * The total of a request list on PostgreSQL, by SqliteListCount's rule: a filter the rollups
 * keep (status, tenant, kind, from, to) is counted from the day rollups, less its soft-deleted
 * matches; any other is counted up to COUNT_CAP through its index, and past it the answer is
 * that lower bound. A plain `count(*)` read every match: a million index entries for the
 * unfiltered list.
 */
export class PostgresListCount {
  constructor(
    private readonly sql: Sql,
    private readonly analytics: PostgresAnalytics,
  ) {}

  /** `where` and `params`: the list's own conditions (no cursor), as listRequests built them. */
  async total(
    filter: RequestFilter,
    where: string,
    params: readonly unknown[],
  ): Promise<ListTotal> {
    const count = rollupCount(filter);
    if (count) {
      const [points, deleted] = await Promise.all([
        this.analytics.requestSeries(count.range, "day", count.scope, { sketches: false }),
        filter.includeDeleted ? 0 : this.deleted(filter),
      ]);
      return { total: countStatuses(points, count.statuses) - deleted, exact: true };
    }
    const found = await this.sql.rows<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM requests${where} LIMIT ${COUNT_CAP + 1}) m`,
      [...params],
    );
    return cappedTotal(found[0]?.n ?? 0);
  }

  private async deleted(filter: RequestFilter): Promise<number> {
    const { where, params } = deletedMatches(filter, (n) => `$${n}`);
    const found = await this.sql.rows<{ n: number }>(
      `SELECT count(*)::int AS n FROM requests WHERE ${where}`,
      params,
    );
    return found[0]?.n ?? 0;
  }
}
