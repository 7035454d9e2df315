import type { CostReport, Request, RequestRecord, Tracker } from "reqtrack";
import { ValidationError } from "reqtrack";
import { intParam } from "../shared/http-errors.js";

/** Seed 004's page sizes: 20 by default, at most 100. */
export const PAGE_SIZE = { default: 20, max: 100 } as const;

/** The seed's request record, from a stored request and its costs. */
export function seedRequest(r: RequestRecord | Request, costs: Request["costs"]) {
  const outcome = (r.status === "failed" ? r.errorDetails : r.result) as {
    statusCode?: number;
    processingMs?: number;
    route?: string;
  } | null;
  const input = (r.input ?? {}) as { method?: string; path?: string };
  return {
    request_id: r.id,
    timestamp: r.createdAt.toISOString(),
    operation_type: r.kind,
    endpoint: outcome?.route ?? null,
    method: input.method ?? null,
    entity_id: r.tenantId,
    session_id: r.sessionId,
    status_code: outcome?.statusCode ?? null,
    processing_time_ms: outcome?.processingMs ?? r.durationMs,
    services_used: costs.map((c) => ({
      service_type: c.service,
      cost_usd: c.amountUsd,
      breakdown: c.usage ?? {},
    })),
    total_cost_usd: r.costUsd,
    error_message: r.errorMessage,
  };
}

/** `GET /api/requests?page&page_size&entity_id&session_id`, in the seed's shape. */
export async function listSeedRequests(
  tracker: Tracker,
  query: Record<string, string | undefined>,
) {
  const page = intParam("page", query.page, 1, 1, 1_000_000);
  const pageSize = intParam("page_size", query.page_size, PAGE_SIZE.default, 1, PAGE_SIZE.max);
  const found = await tracker.listRequests({
    limit: pageSize,
    offset: (page - 1) * pageSize,
    ...(query.entity_id ? { tenantId: query.entity_id } : {}),
    ...(query.session_id ? { sessionId: query.session_id } : {}),
  });
  const requests = await Promise.all(
    found.items.map(async (r) => seedRequest(r, (await tracker.getRequest(r.id))?.costs ?? [])),
  );
  return { requests, total: found.total, page, page_size: pageSize };
}

/** `GET /api/cost-report?entity_id&session_id`: reqtrack's report with `breakdown_by_*` maps. */
export async function seedCostReport(tracker: Tracker, query: Record<string, string | undefined>) {
  for (const field of ["entity_id", "session_id"] as const) {
    if (query[field] === "") throw new ValidationError(field, "must not be empty");
  }
  const report: CostReport = await tracker.costs.report({
    ...(query.entity_id ? { tenantId: query.entity_id } : {}),
    ...(query.session_id ? { sessionId: query.session_id } : {}),
  });
  const map = <T>(rows: T[], key: (row: T) => string | null, value: (row: T) => number) =>
    Object.fromEntries(rows.map((row) => [key(row) ?? "none", value(row)]));
  return {
    period_start: report.periodStart.toISOString(),
    period_end: report.periodEnd.toISOString(),
    total_requests: report.totalRequests,
    total_cost_usd: report.totalCostUsd,
    breakdown_by_service: map(
      report.byService,
      (r) => r.service,
      (r) => r.costUsd,
    ),
    breakdown_by_operation: map(
      report.byOperation,
      (r) => r.kind,
      (r) => r.costUsd,
    ),
    breakdown_by_entity: map(
      report.byTenant,
      (r) => r.tenantId,
      (r) => r.costUsd,
    ),
    breakdown_by_session: map(
      report.bySession.top,
      (r) => r.sessionId,
      (r) => r.costUsd,
    ),
    average_cost_per_request: report.averageCostPerRequest,
  };
}
