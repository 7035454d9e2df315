import type { TimeRange } from "../analytics-store.js";
import type { SessionCandidate, SessionTotalsReader } from "../session-totals.js";
import type { Sql } from "./pg-connection.js";

/**
 * rollup_session_totals, rollup_sessions and rollup_session_days as `topSessions` reads them (session-totals.ts),
 * for one period: one tenant's sessions, or every tenant's together (`tenantId` undefined).
 */
export function postgresSessionReader(
  sql: Sql,
  period: TimeRange,
  tenantId: string | undefined,
): SessionTotalsReader {
  const scoped = tenantId !== undefined;
  // $1 from, $2 to, then the tenant when there is one.
  const range = [period.from, period.to, ...(scoped ? [tenantId] : [])];
  const tenantFilter = scoped ? "AND tenant = $3" : "";
  return {
    candidates: (offset, limit) =>
      sql.rows<SessionCandidate>(
        `SELECT session, requests, cost_micros AS "costMicros", first_bucket AS "firstBucket",
        last_bucket AS "lastBucket" FROM rollup_session_totals
        WHERE scope = $1 AND tenant = $2
        ORDER BY cost_micros DESC, session LIMIT $3 OFFSET $4`,
        [scoped ? 1 : 0, tenantId ?? "", limit, offset],
      ),
    inPeriod: async (session) =>
      (await sql.row<{ requests: number; costMicros: number }>(
        `SELECT coalesce(sum(requests), 0)::int8 AS requests,
        coalesce(sum(cost_micros), 0)::int8 AS "costMicros" FROM rollup_sessions
        WHERE bucket >= $1 AND bucket < $2 ${tenantFilter} AND session = $${range.length + 1}`,
        [...range, session],
      )) ?? { requests: 0, costMicros: 0 },
    // One row per day of the period (session-days.ts), not one per session and day.
    periodSums: async () =>
      (await sql.row<{ rows: number; requests: number; costMicros: number }>(
        `SELECT coalesce(sum(rows), 0)::int8 AS rows, coalesce(sum(requests), 0)::int8 AS requests,
        coalesce(sum(cost_micros), 0)::int8 AS "costMicros" FROM rollup_session_days
        WHERE scope = $3 AND tenant = $4 AND bucket >= $1 AND bucket < $2`,
        [period.from, period.to, scoped ? 1 : 0, tenantId ?? ""],
      )) ?? { rows: 0, requests: 0, costMicros: 0 },
    repeatedRows: async () =>
      (
        await sql.rows<{ n: number }>(
          `SELECT (SELECT count(*)::int8 FROM rollup_sessions s
            WHERE s.session = t.session AND s.bucket >= $1 AND s.bucket < $2
            ${scoped ? "AND s.tenant = $3" : ""} AND (s.requests <> 0 OR s.cost_micros <> 0)) AS n
          FROM rollup_session_totals t
          WHERE t.scope = ${scoped ? 1 : 0} AND t.tenant = ${scoped ? "$3" : "''"}
          AND t.row_count > 1 AND t.last_bucket >= $1 AND t.first_bucket < $2`,
          range,
        )
      ).map((r) => r.n),
  };
}
