import type { CostReport } from "./types";

const cell = (value: string | number | null): string => {
  const s = value === null ? "" : String(value);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/**
 * The cost report as CSV, one row per figure shown: section, key, requests, records, cost.
 * Costs keep the report's full precision (no rounding), so the file adds up like the API.
 */
export function costReportCsv(report: CostReport): string {
  const rows: (string | number | null)[][] = [["section", "key", "requests", "records", "costUsd"]];
  rows.push(["total", "all", report.totalRequests, null, report.totalCostUsd]);
  for (const s of report.byService) rows.push(["service", s.service, null, s.records, s.costUsd]);
  for (const k of report.byOperation) rows.push(["kind", k.kind, k.requests, null, k.costUsd]);
  for (const t of report.byTenant) rows.push(["tenant", t.tenantId, t.requests, null, t.costUsd]);
  for (const s of report.bySession.top)
    rows.push(["session", s.sessionId, s.requests, null, s.costUsd]);
  if (report.bySession.other.sessions > 0)
    rows.push([
      "session",
      `other (${report.bySession.other.sessions} sessions)`,
      report.bySession.other.requests,
      null,
      report.bySession.other.costUsd,
    ]);
  return `${rows.map((r) => r.map(cell).join(",")).join("\n")}\n`;
}
