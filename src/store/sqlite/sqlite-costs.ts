import type Database from "better-sqlite3";
import type { CostScope, CostTotals, TimeRange } from "../analytics-store.js";
import {
  assembleCosts,
  type Breakdown,
  groupSessionRows,
  otherSessions,
  sum,
} from "../analytics-rows.js";
import { COST_LEVEL, LEVEL } from "../rollup-levels.js";
import { prepared } from "./prepared.js";
import { type SessionCandidate, type SessionTotalsReader, topSessions } from "../session-totals.js";

interface SessionRow {
  kind: string | null;
  tenant: string | null;
  requests: number;
  costMicros: number;
}

const BY_TENANT = "INDEXED BY rollup_requests_tenant";

// Rows emptied by hard deletes stay behind with zero sums; they are not part of any report.
const NOT_EMPTY = "HAVING sum(requests) != 0 OR sum(cost_micros) != 0";

/**
 * Cost report figures on SQLite. Without a session filter they come from the rollups (per
 * kind from the hourly request levels, per tenant from the daily one, per service and per
 * session from their own daily tables); one session is small enough to read from its rows.
 */
export class SqliteCosts {
  constructor(private readonly db: Database.Database) {}

  async totals(range: TimeRange, scope: CostScope, topSessions: number): Promise<CostTotals> {
    return scope.sessionId !== undefined
      ? this.forSession(range, scope.sessionId, scope.tenantId)
      : this.fromRollups(range, scope.tenantId, topSessions);
  }

  private async fromRollups(
    range: TimeRange,
    tenantId: string | undefined,
    top: number,
  ): Promise<CostTotals> {
    const tenant = tenantId ?? "";
    const params = { from: range.from, to: range.to, tenant };
    const tenantFilter = tenantId !== undefined ? "AND tenant = @tenant" : "";
    // Per kind from the daily tenant x kind level (one tenant) or the hourly kind level (all
    // tenants: smaller than every tenant's days); per tenant from the daily tenant level.
    const byKind = this.db
      .prepare(
        `SELECT kind AS key, sum(requests) AS requests, sum(cost_micros) AS costMicros
        FROM rollup_requests ${tenantId !== undefined ? BY_TENANT : ""}
        WHERE level = @level AND bucket >= @from AND bucket < @to ${tenantFilter}
        GROUP BY kind ${NOT_EMPTY}`,
      )
      .all({
        ...params,
        level: tenantId !== undefined ? LEVEL.tenantKindDay.id : LEVEL.kindHour.id,
      }) as Breakdown[];
    const byTenant = this.db
      .prepare(
        `SELECT tenant AS key, sum(requests) AS requests, sum(cost_micros) AS costMicros
        FROM rollup_requests ${tenantId !== undefined ? BY_TENANT : ""}
        WHERE level = @level AND bucket >= @from AND bucket < @to
        ${tenantFilter} GROUP BY tenant ${NOT_EMPTY}`,
      )
      .all({ ...params, level: LEVEL.tenantDay.id }) as Breakdown[];
    const byService = this.db
      .prepare(
        `SELECT service, sum(records) AS records, sum(cost_micros) AS costMicros
        FROM rollup_costs WHERE level = @level AND bucket >= @from AND bucket < @to
        ${tenantFilter} GROUP BY service
        HAVING sum(records) != 0 OR sum(cost_micros) != 0`,
      )
      .all({
        ...params,
        level: tenantId !== undefined ? COST_LEVEL.tenantDay : COST_LEVEL.allDay,
      }) as CostTotals["byService"];
    const sessions = await this.sessions(params, tenantId !== undefined, top);
    return assembleCosts(byKind, byTenant, byService, sessions.topSessions, sessions.others);
  }

  /** The `top` costliest sessions and the rest summed (session-totals.ts). */
  private async sessions(
    params: { from: number; to: number; tenant: string },
    scoped: boolean,
    top: number,
  ) {
    const { top: found, all } = await topSessions(
      sqliteSessionReader(this.db, params, scoped),
      params,
      top,
    );
    return { topSessions: found, others: otherSessions(all, found) };
  }

  private forSession(range: TimeRange, sessionId: string, tenantId?: string): CostTotals {
    const tenantFilter = tenantId !== undefined ? "AND r.tenant_id = @tenant" : "";
    const params = {
      from: range.from,
      to: range.to,
      session: sessionId,
      ...(tenantId !== undefined ? { tenant: tenantId } : {}),
    };
    const where = `r.session_id = @session AND r.created_at >= @from AND r.created_at < @to
      ${tenantFilter}`;
    const rows = this.db
      .prepare(
        `SELECT r.kind AS kind, r.tenant_id AS tenant, count(*) AS requests,
        sum(r.cost_micros) AS costMicros FROM requests r WHERE ${where}
        GROUP BY r.kind, r.tenant_id`,
      )
      .all(params) as SessionRow[];
    const byService = this.db
      .prepare(
        `SELECT c.service AS service, count(*) AS records, sum(c.amount_micros) AS costMicros
        FROM costs c JOIN requests r ON r.id = c.request_id WHERE ${where} GROUP BY c.service`,
      )
      .all(params) as CostTotals["byService"];
    const byKind = groupSessionRows(rows, "kind");
    const requests = sum(byKind, "requests");
    const topSessions =
      requests > 0 ? [{ sessionId, requests, costMicros: sum(byKind, "costMicros") }] : [];
    return assembleCosts(byKind, groupSessionRows(rows, "tenant"), byService, topSessions, {
      sessions: 0,
      requests: 0,
      costMicros: 0,
    });
  }
}

/**
 * rollup_session_totals, rollup_sessions and rollup_session_days as `topSessions` reads them, for one period and
 * scope: one tenant's sessions (`scoped`), or every tenant's together.
 */
function sqliteSessionReader(
  db: Database.Database,
  period: { from: number; to: number; tenant: string },
  scoped: boolean,
): SessionTotalsReader {
  const totals = { scope: scoped ? 1 : 0, tenant: scoped ? period.tenant : "" };
  const inPeriod = "bucket >= @from AND bucket < @to";
  const tenantFilter = scoped ? "AND tenant = @tenant" : "";
  return {
    candidates: async (offset, limit) =>
      prepared(
        db,
        `SELECT session, requests, cost_micros AS costMicros, first_bucket AS firstBucket,
          last_bucket AS lastBucket FROM rollup_session_totals
          WHERE scope = @scope AND tenant = @tenant
          ORDER BY cost_micros DESC, session LIMIT @limit OFFSET @offset`,
      ).all({ ...totals, limit, offset }) as SessionCandidate[],
    inPeriod: async (session) =>
      prepared(
        db,
        `SELECT coalesce(sum(requests), 0) AS requests,
          coalesce(sum(cost_micros), 0) AS costMicros FROM rollup_sessions
         
          WHERE session = @session AND ${inPeriod} ${tenantFilter}`,
      ).get({ ...period, session }) as { requests: number; costMicros: number },
    // One row per day of the period (session-days.ts), not one per session and day.
    periodSums: async () =>
      prepared(
        db,
        `SELECT coalesce(sum(rows), 0) AS rows, coalesce(sum(requests), 0) AS requests,
          coalesce(sum(cost_micros), 0) AS costMicros FROM rollup_session_days
          WHERE scope = @scope AND tenant = @tenant AND ${inPeriod}`,
      ).get({ ...period, ...totals }) as { rows: number; requests: number; costMicros: number },
    repeatedRows: async () =>
      prepared(
        db,
        `SELECT (SELECT count(*) FROM rollup_sessions s
            WHERE s.session = t.session AND s.bucket >= @from AND s.bucket < @to
            ${scoped ? "AND s.tenant = @tenant" : ""} AND (s.requests != 0 OR s.cost_micros != 0))
          FROM rollup_session_totals t
          WHERE t.scope = @scope AND t.tenant = @totalsTenant AND t.row_count > 1
          AND t.last_bucket >= @from AND t.first_bucket < @to`,
      )
        .pluck()
        .all({ ...period, scope: totals.scope, totalsTenant: totals.tenant }) as number[],
  };
}
