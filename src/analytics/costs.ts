import type { AnalyticsStore, CostScope, CostTotals, TimeRange } from "../store/analytics-store.js";
import { type ReplayMode, withoutReplays } from "./replay-costs.js";

/** Replay cost figures from their rows (the store's `replays.replayCostTotals`). */
export type ReplayTotals = (range: TimeRange, scope: CostScope, top: number) => Promise<CostTotals>;
import { usd } from "./figures.js";
import { reportPeriod } from "./period.js";

/** The costliest sessions are listed one by one; the rest are summed. */
export const TOP_SESSIONS = 100;

/** The cost report. Every breakdown sums to the total; the costliest come first. */
export interface CostReport {
  /** The whole UTC days covered: [periodStart, periodEnd). */
  periodStart: Date;
  periodEnd: Date;
  /** Requests created in the period, soft-deleted ones included. */
  totalRequests: number;
  totalCostUsd: number;
  byService: { service: string; records: number; costUsd: number }[];
  /** Per operation type (the request's kind; null for none). */
  byOperation: { kind: string | null; requests: number; costUsd: number }[];
  byTenant: { tenantId: string | null; requests: number; costUsd: number }[];
  /** The 100 costliest sessions and the rest summed; requests without a session are in neither. */
  bySession: {
    top: { sessionId: string; requests: number; costUsd: number }[];
    other: { sessions: number; requests: number; costUsd: number };
  };
  /** totalCostUsd / totalRequests; null without requests. */
  averageCostPerRequest: number | null;
}

/** Costs of the requests created in the period, optionally of one tenant and/or session. */
export async function costReport(
  store: AnalyticsStore,
  input: {
    tenantId?: string;
    sessionId?: string;
    from?: number;
    to?: number;
    replays?: ReplayMode;
  },
  now: number,
  replayTotals?: ReplayTotals,
): Promise<CostReport> {
  const range = reportPeriod(input.from, input.to, now);
  const scope = {
    ...(input.tenantId !== undefined ? { tenantId: input.tenantId } : {}),
    ...(input.sessionId !== undefined ? { sessionId: input.sessionId } : {}),
  };
  const mode = replayTotals ? (input.replays ?? "include") : "include";
  let t: CostTotals;
  if (mode === "only" && replayTotals) {
    t = await replayTotals(range, scope, TOP_SESSIONS);
  } else {
    t = await store.costTotals(range, scope, TOP_SESSIONS);
    if (mode === "exclude" && replayTotals) {
      t = withoutReplays(t, await replayTotals(range, scope, TOP_SESSIONS));
    }
  }
  const byCost = <T extends { costMicros: number }>(rows: readonly T[], key: (row: T) => string) =>
    [...rows].sort((a, b) => b.costMicros - a.costMicros || (key(a) < key(b) ? -1 : 1));
  return {
    periodStart: new Date(range.from),
    periodEnd: new Date(range.to),
    totalRequests: t.requests,
    totalCostUsd: usd(t.costMicros),
    byService: byCost(t.byService, (r) => r.service).map((r) => ({
      service: r.service,
      records: r.records,
      costUsd: usd(r.costMicros),
    })),
    byOperation: byCost(t.byKind, (r) => r.kind ?? "").map((r) => ({
      kind: r.kind,
      requests: r.requests,
      costUsd: usd(r.costMicros),
    })),
    byTenant: byCost(t.byTenant, (r) => r.tenantId ?? "").map((r) => ({
      tenantId: r.tenantId,
      requests: r.requests,
      costUsd: usd(r.costMicros),
    })),
    bySession: {
      top: t.topSessions.map((s) => ({
        sessionId: s.sessionId,
        requests: s.requests,
        costUsd: usd(s.costMicros),
      })),
      other: {
        sessions: t.otherSessions.sessions,
        requests: t.otherSessions.requests,
        costUsd: usd(t.otherSessions.costMicros),
      },
    },
    averageCostPerRequest: t.requests === 0 ? null : usd(t.costMicros) / t.requests,
  };
}
