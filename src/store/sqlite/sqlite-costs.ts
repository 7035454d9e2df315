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

  totals(range: TimeRange, scope: CostScope, topSessions: number): CostTotals {
    return scope.sessionId !== undefined
      ? this.forSession(range, scope.sessionId, scope.tenantId)
      : this.fromRollups(range, scope.tenantId, topSessions);
  }

  private fromRollups(range: TimeRange, tenantId: string | undefined, top: number): CostTotals {
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
    const sessions = this.sessions(params, tenantFilter, top);
    return assembleCosts(byKind, byTenant, byService, sessions.topSessions, sessions.others);
  }

  /**
   * The `top` costliest sessions and the rest summed. One statement, so SQLite groups the
   * sessions once and hands back only the top rows with the totals beside them.
   */
  private sessions(params: Record<string, unknown>, tenantFilter: string, top: number) {
    const rows = this.db
      .prepare(
        `WITH s AS (SELECT session, sum(requests) AS requests, sum(cost_micros) AS costMicros
          FROM rollup_sessions WHERE bucket >= @from AND bucket < @to ${tenantFilter}
          GROUP BY session ${NOT_EMPTY})
        SELECT session, requests, costMicros, count(*) OVER () AS allSessions,
          sum(requests) OVER () AS allRequests, sum(costMicros) OVER () AS allCost
        FROM s ORDER BY costMicros DESC, session LIMIT @top`,
      )
      .all({ ...params, top }) as {
      session: string;
      requests: number;
      costMicros: number;
      allSessions: number;
      allRequests: number;
      allCost: number;
    }[];
    const topSessions = rows.map((s) => ({
      sessionId: s.session,
      requests: s.requests,
      costMicros: s.costMicros,
    }));
    const first = rows[0];
    const all = {
      sessions: first?.allSessions ?? 0,
      requests: first?.allRequests ?? 0,
      costMicros: first?.allCost ?? 0,
    };
    return { topSessions, others: otherSessions(all, topSessions) };
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
