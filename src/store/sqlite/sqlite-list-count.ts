import type Database from "better-sqlite3";
import type { RequestFilter } from "../../core/types.js";
import {
  cappedTotal,
  COUNT_CAP,
  countStatuses,
  deletedMatches,
  type ListTotal,
  rollupCount,
} from "../list-total.js";
import type { SqliteAnalytics } from "./sqlite-analytics.js";
import { prepared } from "./prepared.js";

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
    return cappedTotal(counted);
  }

  /** Soft-deleted requests matching a rollup-countable filter, through their partial index. */
  private deleted(filter: RequestFilter): number {
    const { where, params } = deletedMatches(filter, () => "?");
    return prepared(
      this.db,
      `SELECT count(*) FROM requests INDEXED BY requests_deleted WHERE ${where}`,
    )
      .pluck()
      .get(...params) as number;
  }
}
