import type { CostTotals } from "../store/analytics-store.js";

/** Which requests a cost report counts: all (default), originals only, or replays only. */
export const REPLAY_MODES = ["include", "exclude", "only"] as const;
export type ReplayMode = (typeof REPLAY_MODES)[number];

/**
 * Cost totals without the replays' part. The rollups do not split replays out, so their
 * figures (read from their rows, which are few next to all requests) are taken away from
 * the totals. A session made only of replays stays counted in `otherSessions.sessions`.
 */
export function withoutReplays(all: CostTotals, replays: CostTotals): CostTotals {
  const minus = <T extends { costMicros: number }, K>(
    rows: readonly T[],
    taken: readonly T[],
    key: (row: T) => K,
    count: keyof T,
  ): T[] => {
    const out = new Map<K, T>(rows.map((r) => [key(r), { ...r }]));
    for (const t of taken) {
      const row = out.get(key(t));
      if (!row) continue;
      row.costMicros -= t.costMicros;
      (row[count] as number) -= t[count] as number;
    }
    return [...out.values()].filter((r) => (r[count] as number) !== 0 || r.costMicros !== 0);
  };
  const inTop = new Set(all.topSessions.map((s) => s.sessionId));
  const topSessions = minus(all.topSessions, replays.topSessions, (s) => s.sessionId, "requests");
  const outside = [
    ...replays.topSessions.filter((s) => !inTop.has(s.sessionId)),
    replays.otherSessions,
  ];
  return {
    requests: all.requests - replays.requests,
    costMicros: all.costMicros - replays.costMicros,
    byService: minus(all.byService, replays.byService, (r) => r.service, "records"),
    byKind: minus(all.byKind, replays.byKind, (r) => r.kind, "requests"),
    byTenant: minus(all.byTenant, replays.byTenant, (r) => r.tenantId, "requests"),
    topSessions,
    otherSessions: {
      sessions: all.otherSessions.sessions,
      requests: all.otherSessions.requests - outside.reduce((n, s) => n + s.requests, 0),
      costMicros: all.otherSessions.costMicros - outside.reduce((n, s) => n + s.costMicros, 0),
    },
  };
}
