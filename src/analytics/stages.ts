import type { AnalyticsStore } from "../store/analytics-store.js";
import { rollingWindow, windowHours } from "./buckets.js";

/** How one stage did over the window (to find the bottleneck). */
export interface StageStats {
  name: string;
  /** Finished runs: completed plus failed (retries count as runs). */
  count: number;
  completed: number;
  failed: number;
  /** failed / count, in percent. */
  failureRatePct: number;
  /** Durations of finished runs, each percentile within 1 %. */
  p50Ms: number | null;
  p95Ms: number | null;
  totalMs: number;
  /** This stage's share of the time all stages took, in percent; null when all took 0 ms. */
  sharePct: number | null;
}

/** Per stage, for the requests created in the (rolling) window; the biggest share of time first. */
export async function stageBreakdown(
  store: AnalyticsStore,
  input: { window: string; kind?: string | undefined; tenantId?: string | undefined },
  now: number,
): Promise<StageStats[]> {
  const range = rollingWindow(now, windowHours(input.window));
  const stages = await store.stageTotals(range, {
    ...(input.tenantId !== undefined ? { tenantId: input.tenantId } : {}),
    ...(input.kind !== undefined ? { kind: input.kind } : {}),
  });
  const allMs = stages.reduce((sum, s) => sum + s.durationSumMs, 0);
  return stages
    .map((s) => {
      const count = s.completed + s.failed;
      return {
        name: s.name,
        count,
        completed: s.completed,
        failed: s.failed,
        failureRatePct: (s.failed / count) * 100,
        p50Ms: s.durations.percentile(50),
        p95Ms: s.durations.percentile(95),
        totalMs: s.durationSumMs,
        sharePct: allMs === 0 ? null : (s.durationSumMs / allMs) * 100,
      };
    })
    .sort((a, b) => b.totalMs - a.totalMs || (a.name < b.name ? -1 : 1));
}
