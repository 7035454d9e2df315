import { REQUEST_STATUSES, type RequestFilter, type RequestStatus } from "../core/types.js";
import type { RequestScope, SeriesPoint, TimeRange } from "./analytics-store.js";

/**
 * Lists count their matches one by one only up to this many; past it, a list whose filter
 * the rollups keep (status, tenant, kind, time) takes its total from them, and any other
 * says `totalExact: false` with this many as a lower bound. Counting a million rows costs
 * most of a second; the rollups answer in a few milliseconds.
 */
export const COUNT_CAP = 10_000;

/** A list's total: exact, or (`exact: false`) a lower bound. */
export interface ListTotal {
  total: number;
  exact: boolean;
}

/** The total from a count of at most COUNT_CAP + 1 matches. */
export function cappedTotal(counted: number): ListTotal {
  return counted > COUNT_CAP ? { total: COUNT_CAP, exact: false } : { total: counted, exact: true };
}

/** What the rollups need to count a list's matches. */
export interface RollupCount {
  range: TimeRange;
  scope: RequestScope;
  statuses: readonly RequestStatus[];
}

/**
 * What a list filter may hold for the rollups to count it: the fields they keep (status,
 * tenant, kind, time) and the paging ones. Any other field set (user, channel, session,
 * parent, source, prompt text, tag, and any field added later) means counting rows.
 */
const ROLLUP_FIELDS: ReadonlySet<string> = new Set<keyof RequestFilter>([
  "status",
  "tenantId",
  "kind",
  "from",
  "to",
  "includeDeleted",
  "limit",
  "offset",
  "cursor",
]);

/**
 * The rollup count of `filter`, or null when one of its fields is one the rollups do not keep.
 * The rollups count soft-deleted requests too: unless the filter includes them, the driver
 * takes away the deleted matches (few, through the partial index `requests_deleted`).
 */
export function rollupCount(filter: RequestFilter): RollupCount | null {
  for (const [field, value] of Object.entries(filter)) {
    if (value !== undefined && !ROLLUP_FIELDS.has(field)) return null;
  }
  const scope: RequestScope = {};
  if (filter.tenantId !== undefined) scope.tenantId = filter.tenantId;
  if (filter.kind !== undefined) scope.kind = filter.kind;
  const statuses =
    filter.status === undefined
      ? REQUEST_STATUSES
      : Array.isArray(filter.status)
        ? filter.status
        : [filter.status];
  return {
    range: {
      from: filter.from?.getTime() ?? Number.MIN_SAFE_INTEGER,
      to: filter.to?.getTime() ?? Number.MAX_SAFE_INTEGER,
    },
    scope,
    statuses: [...new Set(statuses)],
  };
}

/** The requests of `statuses` in a series. */
export function countStatuses(points: readonly SeriesPoint[], statuses: readonly RequestStatus[]) {
  let total = 0;
  for (const { totals } of points) for (const status of statuses) total += totals.byStatus[status];
  return total;
}

/**
 * The conditions of "soft-deleted requests matching a rollup-countable filter" (for the
 * partial index `requests_deleted`); `placeholder(n)` spells the nth parameter (from 1).
 */
export function deletedMatches(
  filter: RequestFilter,
  placeholder: (n: number) => string,
): { where: string; params: unknown[] } {
  const where = ["deleted_at IS NOT NULL"];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return placeholder(params.length);
  };
  if (filter.status !== undefined) {
    const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
    where.push(`status IN (${statuses.map(param).join(", ")})`);
  }
  if (filter.tenantId !== undefined) where.push(`tenant_id = ${param(filter.tenantId)}`);
  if (filter.kind !== undefined) where.push(`kind = ${param(filter.kind)}`);
  if (filter.from !== undefined) where.push(`created_at >= ${param(filter.from.getTime())}`);
  if (filter.to !== undefined) where.push(`created_at < ${param(filter.to.getTime())}`);
  return { where: where.join(" AND "), params };
}
