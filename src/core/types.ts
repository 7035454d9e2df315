/** The public data types of reqtrack. Times are `Date`s here and ISO-8601 strings in JSON. */

export const REQUEST_STATUSES = [
  "pending",
  "running",
  "completed",
  "failed",
  "timeout",
  "cancelled",
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<RequestStatus> = new Set([
  "completed",
  "failed",
  "timeout",
  "cancelled",
]);

export const LANES = ["high", "normal", "low"] as const;
export type Lane = (typeof LANES)[number];

export const SEVERITIES = ["debug", "info", "warning", "error"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const STAGE_STATUSES = ["running", "completed", "failed", "skipped"] as const;
export type StageStatus = (typeof STAGE_STATUSES)[number];

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A request as lists return it: every column, without stages and costs. */
export interface RequestRecord {
  id: string;
  status: RequestStatus;
  priority: number;
  lane: Lane;
  userId: string;
  channelId: string | null;
  tenantId: string | null;
  sessionId: string | null;
  kind: string | null;
  source: string | null;
  tags: string[];
  initialMessage: string | null;
  input: JsonValue | null;
  intent: string | null;
  entities: JsonValue | null;
  parentId: string | null;
  correlationId: string | null;
  result: JsonValue | null;
  /** Sanitized; for a cancelled request, the reason. */
  errorMessage: string | null;
  errorStage: string | null;
  errorDetails: JsonValue | null;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  workerId: string | null;
  leaseExpiresAt: Date | null;
  deadline: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  updatedAt: Date;
  deletedAt: Date | null;
  /** startedAt - createdAt of the latest run. */
  queueMs: number | null;
  /** completedAt - startedAt, for every terminal status of a run that started. */
  durationMs: number | null;
  costUsd: number;
  counters: Record<string, number>;
  /** The cost the caller expected (`estimatedCostUsd`), held against enforce budgets while it runs. */
  estimatedCostUsd: number | null;
  /** The request this one replays (`tracker.replay()`); null for an original. */
  replayOf: string | null;
}

export interface Stage {
  name: string;
  /** 1 for the first run of this stage, 2 after a retry, ... */
  attempt: number;
  status: StageStatus;
  startedAt: Date;
  completedAt: Date | null;
  durationMs: number | null;
  output: JsonValue | null;
  errorMessage: string | null;
  errorDetails: JsonValue | null;
  retryable: boolean | null;
  /** A replay's stage copied from the original (this request id) instead of run again. */
  reusedFrom: string | null;
}

/** The price a cost's amount was computed from (stored with the cost; see docs/costs.md). */
export interface PriceUsed {
  priceId: string;
  service: string;
  /** The price's model or pattern, and the model the usage named. */
  pattern: string;
  model: string;
  inputUsdPerMillion: number | null;
  outputUsdPerMillion: number | null;
  unitUsd: number | null;
  effectiveFrom: string;
}

export interface Cost {
  service: string;
  amountUsd: number;
  /** Exact integer micro-USD, as stored. */
  amountMicros: number;
  usage: JsonValue | null;
  stage: string | null;
  ts: Date;
  /** The price table entry the amount was computed from; null when the caller gave the amount. */
  price: PriceUsed | null;
}

/** What one request spent with one service: the per-service split of a list row's cost. */
export interface CostSplit {
  requestId: string;
  service: string;
  amountMicros: number;
  records: number;
}

/** A request with its stages (in start order) and costs (in record order). */
export interface Request extends RequestRecord {
  stages: Stage[];
  costs: Cost[];
}

export interface RequestEvent {
  requestId: string;
  /** Position in this request's history, from 1. */
  seq: number;
  ts: Date;
  type: string;
  stage: string | null;
  severity: Severity;
  message: string;
  data: JsonValue | null;
}

/** A page of a list: `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  /** Every match, not just this page's. */
  total: number;
  /**
   * false when `total` is a lower bound: a filter by user, channel, session, parent or tag
   * with more than 10,000 matches is not counted to the end (absent when exact).
   */
  totalExact?: false;
  nextCursor: string | null;
}

export interface RequestFilter {
  status?: RequestStatus | RequestStatus[];
  userId?: string;
  tenantId?: string;
  channelId?: string;
  sessionId?: string;
  kind?: string;
  parentId?: string;
  source?: string;
  tag?: string;
  /**
   * Text the prompt (initialMessage, else a string input.prompt) contains. Case-insensitive
   * for ASCII letters; `%` and `_` are plain characters. A scan of the rows the other filters
   * leave, so pair it with a tenant or time range on large stores.
   */
  prompt?: string;
  /** createdAt >= from */
  from?: Date;
  /** createdAt < to */
  to?: Date;
  includeDeleted?: boolean;
  limit: number;
  offset: number;
  cursor?: string;
}

export const API_KEY_ROLES = ["admin", "writer", "viewer"] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

/** An API key as stored: never the secret, only its SHA-256 `hash`. */
export interface ApiKey {
  id: string;
  name: string | null;
  role: ApiKeyRole;
  /** The tenant a writer or viewer key is confined to; null for admin keys. */
  tenantId: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

/** Who a request belongs to and where it stands: enough for access checks and live filters. */
export interface RequestScope {
  status: RequestStatus;
  tenantId: string | null;
  kind: string | null;
}
