/** The API's answers, as far as the pages read them. */

export type Status = "pending" | "running" | "completed" | "failed" | "timeout" | "cancelled";
export const STATUSES: Status[] = [
  "pending",
  "running",
  "completed",
  "failed",
  "timeout",
  "cancelled",
];

export interface Whoami {
  keyId: string | null;
  role: "admin" | "writer" | "viewer";
  tenantId: string | null;
  /** Optional API parts of this server ("replay", "compare"); absent on older servers. */
  features?: string[];
}

/** Whether the server has an optional API part (GET /whoami lists them). */
export const hasFeature = (me: Whoami, name: string): boolean =>
  me.features?.includes(name) ?? false;

export interface Overview {
  window: string;
  from: string;
  to: string;
  total: number;
  countsByStatus: Record<Status, number>;
  failureRatePct: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  queueMs: { p50: number | null; p95: number | null };
  throughputPerMin: number;
  active: number;
  queueDepthByLane: Record<string, number>;
  costUsd: number;
}

export interface SeriesPoint {
  start: string;
  total: number;
  countsByStatus: Record<Status, number>;
  latencyMs: { p50: number | null; p95: number | null };
  costUsd: number;
}

export interface QueueStatus {
  at: string;
  pending: number;
  oldestPending: { id: string; createdAt: string; ageMs: number } | null;
  running: number;
  runningByWorker: { workerId: string; running: number }[];
  leasesExpiringSoon: LeaseBrief[];
  expiredLeases: LeaseBrief[];
  /** Running with no heartbeat for a minute, or past their timeout (newer servers). */
  staleRunning?: StaleBrief[];
}

export interface StaleBrief extends LeaseBrief {
  startedAt: string | null;
  updatedAt: string;
  reason: "no_heartbeat" | "past_timeout";
}

export interface LeaseBrief {
  id: string;
  tenantId: string | null;
  kind: string | null;
  workerId: string | null;
  leaseExpiresAt: string | null;
}

export interface BreakerStats {
  state: "CLOSED" | "OPEN" | "HALF_OPEN";
  totalCalls: number;
  totalFailures: number;
  totalRejected: number;
  failureRatePct: number;
}

export interface RequestRow {
  id: string;
  status: Status;
  lane: string;
  userId: string | null;
  channelId: string | null;
  tenantId: string | null;
  sessionId: string | null;
  kind: string | null;
  source: string | null;
  tags: string[];
  initialMessage: string | null;
  input: unknown;
  intent: string | null;
  entities: unknown;
  parentId: string | null;
  correlationId: string | null;
  result: unknown;
  errorMessage: string | null;
  errorStage: string | null;
  errorDetails: unknown;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number | null;
  workerId: string | null;
  leaseExpiresAt: string | null;
  deadline: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  updatedAt: string;
  priority: number;
  queueMs: number | null;
  durationMs: number | null;
  costUsd: number;
  counters: Record<string, number>;
}

export interface Page<T> {
  items: T[];
  total: number;
  nextCursor: string | null;
}

export interface StageRow {
  name: string;
  attempt: number;
  status: string;
  startedAt: string | null;
  completedAt: string | null;
  durationMs: number | null;
  output: unknown;
  errorMessage: string | null;
  errorDetails: unknown;
  retryable: boolean | null;
}

export interface CostRow {
  service: string;
  amountUsd: number;
  usage: Record<string, unknown> | null;
  stage: string | null;
  ts: string;
}

export interface RequestDetail extends RequestRow {
  stages: StageRow[];
  costs: CostRow[];
}

export interface EventRow {
  seq: number;
  ts: string;
  type: string;
  stage: string | null;
  severity: string;
  message: string;
  data: unknown;
}

export interface CostReport {
  periodStart: string;
  periodEnd: string;
  totalRequests: number;
  totalCostUsd: number;
  byService: { service: string; records: number; costUsd: number }[];
  byOperation: { kind: string | null; requests: number; costUsd: number }[];
  byTenant: { tenantId: string | null; requests: number; costUsd: number }[];
  bySession: {
    top: { sessionId: string; requests: number; costUsd: number }[];
    other: { sessions: number; requests: number; costUsd: number };
  };
  averageCostPerRequest: number | null;
}

export interface StageStat {
  name: string;
  count: number;
  completed: number;
  failed: number;
  failureRatePct: number;
  p50Ms: number | null;
  p95Ms: number | null;
  totalMs: number;
  sharePct: number;
}

/** One request's spend with one service (GET /costs/by-request). */
export interface CostSplitItem {
  requestId: string;
  service: string;
  costUsd: number;
  records: number;
}

/** A recent alert (GET /alerts). */
export interface AlertItem {
  name: string;
  message: string;
  at: string;
  requestId: string | null;
  tenantId: string | null;
  data: Record<string, unknown> | null;
}

export interface Budget {
  id: string;
  name: string;
  scope: {
    tenantId: string | null;
    userId: string | null;
    sessionId: string | null;
    kind: string | null;
    service: string | null;
  };
  period: "day" | "week" | "month";
  rolling: boolean;
  amountMicros: number;
  thresholds: number[];
  mode: "alert" | "enforce";
  webhookUrl: string | null;
}

export interface BudgetStatus {
  budget: Budget;
  periodStart: string;
  periodEnd: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  remainingUsd: number;
  percent: number;
  projectedUsd: number;
  exceeded: boolean;
  alerted: number[];
}

export interface Burndown {
  budgetId: string;
  periodStart: string;
  periodEnd: string;
  at: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  projectedUsd: number | null;
  points: { at: string; spentUsd: number }[];
}

/** One side of GET /requests/:id/compare/:otherId. */
export interface CompareSide {
  id: string;
  replayOf: string | null;
  status: Status;
  createdAt: string;
  durationMs: number | null;
  costUsd: number;
  costByService: Record<string, number>;
  result: unknown;
  errorMessage: string | null;
  stages: { name: string; status: string; durationMs: number | null; reused: boolean }[];
}

/** GET /requests/:id/compare/:otherId (the replay API): two runs side by side. */
export interface Comparison {
  left: CompareSide;
  right: CompareSide;
}

/** A bulk replay job (GET /replays): what it picked and how far it got. */
export interface ReplayJob {
  id: string;
  filter: {
    status?: string[];
    kind?: string;
    tenantId?: string;
    from?: number;
    to?: number;
  };
  ratePerSecond: number;
  fromStage: string | null;
  status: "running" | "completed" | "stopped";
  total: number;
  done: number;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}
