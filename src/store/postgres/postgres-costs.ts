import {
  assembleCosts,
  type Breakdown,
  groupSessionRows,
  otherSessions,
  sum,
} from "../analytics-rows.js";
import type { CostScope, CostTotals, TimeRange } from "../analytics-store.js";
import { COST_LEVEL, LEVEL } from "../rollup-levels.js";
import { topSessions as topSessionsOf } from "../session-totals.js";
import type { Sql } from "./pg-connection.js";
import { postgresSessionReader } from "./postgres-session-totals.js";

// Sums of BIGINT are NUMERIC in PostgreSQL (strings to pg): cast back to int8, which this
// store's pool reads as numbers.
const sumOf = (column: string, as: string) => `sum(${column})::int8 AS "${as}"`;

// Rows emptied by hard deletes stay behind with zero sums; they are not part of any report.
const NOT_EMPTY = "HAVING sum(requests) <> 0 OR sum(cost_micros) <> 0";

/**
 * Cost report figures on PostgreSQL, from the same rollups and by the same plan as
 * SqliteCosts: per kind from the hourly request level (all tenants) or the daily one (a
 * tenant), per tenant from the daily level, per service and per session from their own daily
 * tables; one session is small enough to read from its rows.
 */
export class PostgresCosts {
  constructor(private readonly sql: Sql) {}

  totals(range: TimeRange, scope: CostScope, topSessions: number): Promise<CostTotals> {
    return scope.sessionId !== undefined
      ? this.forSession(range, scope.sessionId, scope.tenantId)
      : this.fromRollups(range, scope.tenantId, topSessions);
  }

  private async fromRollups(
    range: TimeRange,
    tenantId: string | undefined,
    top: number,
  ): Promise<CostTotals> {
    const tenant = tenantId !== undefined;
    // $1 level, $2 from, $3 to, then the tenant when there is one.
    const values = (level: number) => [level, range.from, range.to, ...(tenant ? [tenantId] : [])];
    const inRange = `level = $1 AND bucket >= $2 AND bucket < $3 ${tenant ? "AND tenant = $4" : ""}`;
    const byKind = await this.sql.rows<Breakdown>(
      `SELECT kind AS key, ${sumOf("requests", "requests")}, ${sumOf("cost_micros", "costMicros")}
      FROM rollup_requests WHERE ${inRange} GROUP BY kind ${NOT_EMPTY}`,
      values(tenant ? LEVEL.tenantKindDay.id : LEVEL.kindHour.id),
    );
    const byTenant = await this.sql.rows<Breakdown>(
      `SELECT tenant AS key, ${sumOf("requests", "requests")},
      ${sumOf("cost_micros", "costMicros")}
      FROM rollup_requests WHERE ${inRange} GROUP BY tenant ${NOT_EMPTY}`,
      values(LEVEL.tenantDay.id),
    );
    const byService = await this.sql.rows<CostTotals["byService"][number]>(
      `SELECT service, ${sumOf("records", "records")}, ${sumOf("cost_micros", "costMicros")}
      FROM rollup_costs WHERE ${inRange} GROUP BY service
      HAVING sum(records) <> 0 OR sum(cost_micros) <> 0`,
      values(tenant ? COST_LEVEL.tenantDay : COST_LEVEL.allDay),
    );
    const { top: topSessions, all } = await topSessionsOf(
      postgresSessionReader(this.sql, range, tenantId),
      range,
      top,
    );
    return assembleCosts(byKind, byTenant, byService, topSessions, otherSessions(all, topSessions));
  }

  private async forSession(
    range: TimeRange,
    sessionId: string,
    tenantId?: string,
  ): Promise<CostTotals> {
    const values = [sessionId, range.from, range.to, ...(tenantId !== undefined ? [tenantId] : [])];
    const where = `r.session_id = $1 AND r.created_at >= $2 AND r.created_at < $3
      ${tenantId !== undefined ? "AND r.tenant_id = $4" : ""}`;
    const rows = await this.sql.rows<{
      kind: string | null;
      tenant: string | null;
      requests: number;
      costMicros: number;
    }>(
      `SELECT r.kind AS kind, r.tenant_id AS tenant, count(*) AS requests,
      ${sumOf("r.cost_micros", "costMicros")} FROM requests r WHERE ${where}
      GROUP BY r.kind, r.tenant_id`,
      values,
    );
    const byService = await this.sql.rows<CostTotals["byService"][number]>(
      `SELECT c.service AS service, count(*) AS records, ${sumOf("c.amount_micros", "costMicros")}
      FROM costs c JOIN requests r ON r.id = c.request_id WHERE ${where} GROUP BY c.service`,
      values,
    );
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
