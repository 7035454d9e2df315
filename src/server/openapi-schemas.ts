import { z } from "zod";
import { GROUP_BY } from "../analytics/schemas.js";
import { ERROR_CODES, type ErrorCode } from "../core/errors.js";
import {
  LANES,
  REQUEST_STATUSES,
  SEVERITIES,
  STAGE_STATUSES,
  type RequestStatus,
} from "../core/types.js";

/**
 * The answers of the HTTP API, as zod schemas that the OpenAPI document at /docs is built from.
 * They describe what the handlers return (times are `Date`s here and ISO-8601 strings on the
 * wire); they never reshape it: the server serializes answers with plain `JSON.stringify`
 * (see `openapi.ts`), and the test suite checks every answer it gets against the document.
 */

/** Shared components, by name: each is one `#/components/schemas/<id>` in the document. */
export const openapiRegistry = z.registry<{ id?: string; description?: string }>();

/** Registers `schema` as the shared component `id` of the document. */
export function component<S extends z.ZodType>(id: string, description: string, schema: S): S {
  openapiRegistry.add(schema, { id, description });
  return schema;
}

const date = z.date();
const nullableDate = date.nullable();
const json = z.unknown();

/** Every status, each a count (0 when none). */
export const statusCountsSchema = component(
  "StatusCounts",
  "Requests per status; every status is present, 0 when none.",
  z.object(
    Object.fromEntries(REQUEST_STATUSES.map((s) => [s, z.number().int()])) as Record<
      RequestStatus,
      z.ZodNumber
    >,
  ),
);

const laneCounts = z.object({
  high: z.number().int(),
  normal: z.number().int(),
  low: z.number().int(),
});

export const stageSchema = component(
  "Stage",
  "One run of a stage of a request.",
  z.object({
    name: z.string(),
    attempt: z.number().int(),
    status: z.enum(STAGE_STATUSES),
    startedAt: date,
    completedAt: nullableDate,
    durationMs: z.number().nullable(),
    output: json,
    errorMessage: z.string().nullable(),
    errorDetails: json,
    retryable: z.boolean().nullable(),
    reusedFrom: z.string().nullable(),
  }),
);

export const priceUsedSchema = component(
  "PriceUsed",
  "The price table entry a cost's amount was computed from.",
  z.object({
    priceId: z.string(),
    service: z.string(),
    pattern: z.string(),
    model: z.string(),
    inputUsdPerMillion: z.number().nullable(),
    outputUsdPerMillion: z.number().nullable(),
    unitUsd: z.number().nullable(),
    effectiveFrom: z.string(),
  }),
);

export const costSchema = component(
  "Cost",
  "A cost recorded on a request.",
  z.object({
    service: z.string(),
    amountUsd: z.number(),
    amountMicros: z.number().int(),
    usage: json,
    stage: z.string().nullable(),
    ts: date,
    price: priceUsedSchema.nullable(),
  }),
);

const requestFields = {
  id: z.string(),
  status: z.enum(REQUEST_STATUSES),
  priority: z.number(),
  lane: z.enum(LANES),
  userId: z.string(),
  channelId: z.string().nullable(),
  tenantId: z.string().nullable(),
  sessionId: z.string().nullable(),
  kind: z.string().nullable(),
  source: z.string().nullable(),
  tags: z.array(z.string()),
  initialMessage: z.string().nullable(),
  input: json,
  intent: z.string().nullable(),
  entities: json,
  parentId: z.string().nullable(),
  correlationId: z.string().nullable(),
  result: json,
  errorMessage: z.string().nullable(),
  errorStage: z.string().nullable(),
  errorDetails: json,
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  timeoutMs: z.number().int(),
  workerId: z.string().nullable(),
  leaseExpiresAt: nullableDate,
  deadline: nullableDate,
  createdAt: date,
  startedAt: nullableDate,
  completedAt: nullableDate,
  updatedAt: date,
  deletedAt: nullableDate,
  queueMs: z.number().nullable(),
  durationMs: z.number().nullable(),
  costUsd: z.number(),
  counters: z.record(z.string(), z.number()),
  estimatedCostUsd: z.number().nullable(),
  replayOf: z.string().nullable(),
};

export const requestRecordSchema = component(
  "RequestRecord",
  "A request as lists return it: every column, without stages and costs.",
  z.object(requestFields),
);

export const requestSchema = component(
  "Request",
  "A request with its stages (in start order) and costs (in record order).",
  z.object({ ...requestFields, stages: z.array(stageSchema), costs: z.array(costSchema) }),
);

export const requestPageSchema = component(
  "RequestPage",
  "A page of requests, newest first; `nextCursor` is null on the last page.",
  z.object({
    items: z.array(requestRecordSchema),
    total: z.number().int(),
    nextCursor: z.string().nullable(),
  }),
);

export const eventSchema = component(
  "Event",
  "One entry of a request's history (status changes are events too).",
  z.object({
    requestId: z.string(),
    seq: z.number().int(),
    ts: date,
    type: z.string(),
    stage: z.string().nullable(),
    severity: z.enum(SEVERITIES),
    message: z.string(),
    data: json,
  }),
);

export const eventListSchema = z.object({ items: z.array(eventSchema) });

export const budgetExceededSchema = component(
  "BudgetExceeded",
  "The figures of a spent budget that refused a new request.",
  z.object({
    budgetId: z.string(),
    name: z.string(),
    limitUsd: z.number(),
    spentUsd: z.number(),
    periodEnd: z.string(),
    retryAfterSeconds: z.number().int(),
  }),
);

const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

export const errorSchema = component(
  "Error",
  "Every error answer: a stable `code` (see docs/errors.md), a human `message`, the `field` at fault for validation errors, and a spent budget's figures for RT_ERR_BUDGET_EXCEEDED.",
  z.object({
    code: z.enum(ERROR_CODE_LIST),
    message: z.string(),
    field: z.string().optional(),
    budget: budgetExceededSchema.optional(),
  }),
);

export const claimResultSchema = z.object({
  /** Null when nothing is pending for this worker. */
  request: requestSchema.nullable(),
});

export const heartbeatResultSchema = z.object({ alive: z.boolean() });

export const queueDepthSchema = component(
  "QueueDepth",
  "Pending requests per lane, and in all.",
  laneCounts.extend({ total: z.number().int() }),
);

export const ingestResultSchema = component(
  "IngestResult",
  "The outcome of one op of an ingest batch, in the batch's order.",
  z.union([
    z.object({
      opId: z.string(),
      ok: z.literal(true),
      requestId: z.string(),
      duplicate: z.boolean().optional(),
      degraded: z.boolean().optional(),
    }),
    z.object({
      opId: z.string().nullable(),
      ok: z.literal(false),
      // The same body as an error answer; the code typed as a string, as the tracker types it.
      error: errorSchema.extend({ code: z.string() }),
    }),
  ]),
);

export const ingestAnswerSchema = z.object({ results: z.array(ingestResultSchema) });

const p50p95 = { p50: z.number().nullable(), p95: z.number().nullable() };

export const overviewSchema = component(
  "Overview",
  "The global dashboard: the window's requests, and what is live right now.",
  z.object({
    window: z.string(),
    from: date,
    to: date,
    total: z.number().int(),
    countsByStatus: statusCountsSchema,
    failureRatePct: z.number().nullable(),
    latencyMs: z.object({ ...p50p95, p99: z.number().nullable() }),
    queueMs: z.object(p50p95),
    throughputPerMin: z.number(),
    active: z.number().int(),
    queueDepthByLane: laneCounts,
    costUsd: z.number(),
  }),
);

export const timeseriesPointSchema = component(
  "TimeseriesPoint",
  "One bucket of a timeseries; buckets without requests are there too, with zeros.",
  z.object({
    start: date,
    total: z.number().int(),
    countsByStatus: statusCountsSchema,
    latencyMs: z.object(p50p95),
    costUsd: z.number(),
  }),
);

const bucketFigures = {
  total: z.number().int(),
  countsByStatus: statusCountsSchema,
  avgDurationMs: z.number().nullable(),
  costUsd: z.number(),
};

export const groupStatsSchema = component(
  "GroupStats",
  "Statistics of one group, overall and per calendar bucket.",
  z.object({
    by: z.enum(GROUP_BY),
    value: z.string(),
    bucket: z.enum(["day", "week", "month"]),
    from: date,
    to: date,
    ...bucketFigures,
    topPrompts: z.array(z.object({ prompt: z.string(), count: z.number().int() })),
    buckets: z.array(z.object({ start: date, ...bucketFigures })),
  }),
);

export const stageStatsSchema = component(
  "StageStats",
  "How one stage did over the window.",
  z.object({
    name: z.string(),
    count: z.number().int(),
    completed: z.number().int(),
    failed: z.number().int(),
    failureRatePct: z.number(),
    p50Ms: z.number().nullable(),
    p95Ms: z.number().nullable(),
    totalMs: z.number(),
    sharePct: z.number().nullable(),
  }),
);

const costLine = { requests: z.number().int(), costUsd: z.number() };

export const costReportSchema = component(
  "CostReport",
  "Costs of the requests created in the period; every breakdown sums to the total.",
  z.object({
    periodStart: date,
    periodEnd: date,
    totalRequests: z.number().int(),
    totalCostUsd: z.number(),
    byService: z.array(
      z.object({ service: z.string(), records: z.number().int(), costUsd: z.number() }),
    ),
    byOperation: z.array(z.object({ kind: z.string().nullable(), ...costLine })),
    byTenant: z.array(z.object({ tenantId: z.string().nullable(), ...costLine })),
    bySession: z.object({
      top: z.array(z.object({ sessionId: z.string(), ...costLine })),
      other: z.object({ sessions: z.number().int(), ...costLine }),
    }),
    averageCostPerRequest: z.number().nullable(),
  }),
);

export const breakerStatsSchema = component(
  "BreakerStats",
  "A circuit breaker's state and counts.",
  z.object({
    state: z.enum(["CLOSED", "OPEN", "HALF_OPEN"]),
    totalCalls: z.number().int(),
    totalFailures: z.number().int(),
    totalRejected: z.number().int(),
    failureRatePct: z.number(),
  }),
);

export const breakersSchema = z.object({ breakers: z.record(z.string(), breakerStatsSchema) });

export const streamTokenSchema = component(
  "StreamToken",
  "A token that opens GET /api/v1/stream?token=... (for EventSource) until `expiresAt`, with the role and tenant of the key that asked for it.",
  z.object({ token: z.string(), expiresAt: z.string() }),
);

/** GET /api/v1/stream: Server-Sent Events, one JSON change per `data:` line. */
export const eventStream = {
  description:
    "Server-Sent Events: `id:` (for Last-Event-ID resumes), `event:` and one JSON `data:` line per change; comments keep the connection alive.",
  content: { "text/event-stream": { schema: z.string() } },
};
