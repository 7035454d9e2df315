import { Sketch } from "../core/sketch.js";
import { type Lane, REQUEST_STATUSES, type RequestStatus } from "../core/types.js";

/**
 * What a store driver gives the analytics layer: aggregates over requests, read from rollups
 * kept in the write transaction (or, for scopes the rollups do not cover, from the rows).
 * Drivers aggregate; `src/analytics/` turns aggregates into figures (rates, percentiles,
 * calendar buckets). Every time axis is the request's `createdAt`; soft-deleted requests
 * count in every aggregate and only `promptCounts` leaves them out (prompts are content).
 */
export interface AnalyticsStore {
  /**
   * Totals per `grain` bucket of createdAt in [from, to), only for buckets that hold requests.
   * `from` and `to` must be multiples of the grain. `sketches: false` skips the latency and
   * queue sketches (left empty) when only counts and sums are needed.
   */
  requestSeries(
    range: TimeRange,
    grain: Grain,
    scope: RequestScope,
    options?: { sketches?: boolean },
  ): Promise<SeriesPoint[]>;
  /** Finished stage runs of the requests created in [from, to) (whole hours), per stage name. */
  stageTotals(range: TimeRange, scope: StageScope): Promise<StageTotals[]>;
  /** Requests running now and pending per lane (soft-deleted ones left out: they are not live). */
  live(scope: { tenantId?: string }): Promise<LiveCounts>;
  /** Prompts (initialMessage, else input.prompt) as stored, with how often each occurs. */
  promptCounts(range: TimeRange, scope: RequestScope): Promise<PromptCount[]>;
  /** Cost figures of the requests created in [from, to) (whole UTC days). */
  costTotals(range: TimeRange, scope: CostScope, topSessions: number): Promise<CostTotals>;
}

export type Grain = "minute" | "hour" | "day";

export const GRAIN_MS: Readonly<Record<Grain, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** Epoch ms, `to` exclusive. */
export interface TimeRange {
  from: number;
  to: number;
}

/** At most one of userId, channelId and source; tenantId and kind may combine. */
export interface RequestScope {
  tenantId?: string;
  kind?: string;
  source?: string;
  userId?: string;
  channelId?: string;
}

export interface StageScope {
  tenantId?: string;
  kind?: string;
}

export interface CostScope {
  tenantId?: string;
  sessionId?: string;
}

/** Aggregates of a set of requests. */
export interface RequestTotals {
  requests: number;
  byStatus: Record<RequestStatus, number>;
  /** Sum of durationMs over completed requests. */
  durationSumMs: number;
  /** Requests that have started (queueMs known) and the sum of their queueMs. */
  queueCount: number;
  queueSumMs: number;
  costMicros: number;
  /** durationMs of completed requests. */
  latency: Sketch;
  /** queueMs of started requests. */
  queue: Sketch;
}

export interface SeriesPoint {
  start: number;
  totals: RequestTotals;
}

export interface StageTotals {
  name: string;
  completed: number;
  failed: number;
  /** Sum of durationMs over completed and failed runs. */
  durationSumMs: number;
  durations: Sketch;
}

export interface LiveCounts {
  running: number;
  pendingByLane: Record<Lane, number>;
}

export interface PromptCount {
  prompt: string;
  count: number;
}

export interface CostTotals {
  requests: number;
  costMicros: number;
  byService: { service: string; records: number; costMicros: number }[];
  byKind: { kind: string | null; requests: number; costMicros: number }[];
  byTenant: { tenantId: string | null; requests: number; costMicros: number }[];
  /** The costliest sessions, most expensive first. */
  topSessions: { sessionId: string; requests: number; costMicros: number }[];
  /** Every other session, summed. */
  otherSessions: { sessions: number; requests: number; costMicros: number };
}

/** The columns of one request that its aggregates are made of. */
export interface RequestFacts {
  status: RequestStatus;
  durationMs: number | null;
  queueMs: number | null;
  costMicros: number;
}

export function emptyTotals(): RequestTotals {
  const byStatus = {} as Record<RequestStatus, number>;
  for (const status of REQUEST_STATUSES) byStatus[status] = 0;
  return {
    requests: 0,
    byStatus,
    durationSumMs: 0,
    queueCount: 0,
    queueSumMs: 0,
    costMicros: 0,
    latency: new Sketch(),
    queue: new Sketch(),
  };
}

/**
 * Adds (sign 1) or takes back (sign -1) one request. The one definition of what a request
 * contributes, used by the rollups' write path, their rebuild, and reads from raw rows.
 */
export function addRequest(totals: RequestTotals, facts: RequestFacts, sign: 1 | -1): void {
  totals.requests += sign;
  totals.byStatus[facts.status] += sign;
  if (facts.status === "completed" && facts.durationMs !== null) {
    totals.durationSumMs += sign * facts.durationMs;
    totals.latency.add(facts.durationMs, sign);
  }
  if (facts.queueMs !== null) {
    totals.queueCount += sign;
    totals.queueSumMs += sign * facts.queueMs;
    totals.queue.add(facts.queueMs, sign);
  }
  totals.costMicros += sign * facts.costMicros;
}

/** Adds `from` into `into`. */
export function mergeTotals(into: RequestTotals, from: RequestTotals): RequestTotals {
  into.requests += from.requests;
  for (const status of REQUEST_STATUSES) into.byStatus[status] += from.byStatus[status];
  into.durationSumMs += from.durationSumMs;
  into.queueCount += from.queueCount;
  into.queueSumMs += from.queueSumMs;
  into.costMicros += from.costMicros;
  into.latency.merge(from.latency);
  into.queue.merge(from.queue);
  return into;
}
