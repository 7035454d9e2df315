import fc from "fast-check";
import { expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { fakeClock, silentLogger } from "../support/helpers.js";
import { describeEachStorage, type TestStorage } from "../support/storages.js";
import {
  apply,
  avgCompleted,
  CHANNELS,
  completedDurations,
  costOf,
  countsByStatus,
  DAY,
  type Expected,
  failureRate,
  HOUR,
  KINDS,
  NOW,
  nearestRank,
  type Plan,
  planArb,
  plainNormalize,
  queueTimes,
  SESSIONS,
  SOURCES,
  TENANTS,
  USERS,
} from "./model.js";

/**
 * Behaviour 1: every figure matches a plain computation over the same random data. Counts,
 * sums and money exactly; percentiles within 1 % (they come from sketches, see
 * docs/analytics.md); days are UTC days, weeks ISO weeks, months calendar months. On every
 * storage driver.
 */
const MINUTE = 60_000;
const workload = fc.array(planArb, { minLength: 1, maxLength: 60, size: "max" });

async function seeded(
  storage: TestStorage,
  plans: Plan[],
): Promise<{ tracker: Tracker; requests: Expected[] }> {
  const time = fakeClock(NOW);
  const tracker = await createTracker({
    ...(await storage.emptied()),
    clock: time.clock,
    logger: silentLogger(),
    watchdogIntervalMs: 0,
  });
  const requests: Expected[] = [];
  for (const [i, plan] of plans.entries()) requests.push(await apply(tracker, time, plan, i));
  time.set(NOW);
  return { tracker, requests };
}

function expectWithin1Pct(actual: number | null, exact: number | null): void {
  if (exact === null) {
    expect(actual).toBeNull();
    return;
  }
  expect(actual).not.toBeNull();
  expect(Math.abs((actual as number) - exact)).toBeLessThanOrEqual(exact * 0.01 + 1e-9);
}

const usd = (micros: number) => micros / 1e6;
const inRange = (from: number, to: number) => (r: Expected) =>
  r.createdAt >= from && r.createdAt < to;
const tenantIs = (tenant: string | undefined) => (r: Expected) =>
  tenant === undefined || r.plan.tenantId === tenant;

/** Plain calendar starts in UTC, written independently of src/analytics/buckets.ts. */
function plainBucketStart(ms: number, bucket: "day" | "week" | "month"): number {
  const d = new Date(ms);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (bucket === "day") return day;
  if (bucket === "month") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const isoWeekday = d.getUTCDay() === 0 ? 7 : d.getUTCDay(); // Monday 1 ... Sunday 7
  return day - (isoWeekday - 1) * DAY;
}

describeEachStorage("analytics figures match a plain computation over random data", (storage) => {
  // A run writes its workload one commit per call: ~0.5 s on PostgreSQL (one schema for the
  // file, emptied per run) against ~40 ms on SQLite in memory. SQLite's many runs cover the
  // random space; PostgreSQL's fewer check that its driver computes the same figures, and
  // keep the file near half a minute.
  const RUNS = storage.name === "postgres" ? 8 : 40;
  it("overview: counts, failure rate, latency and queue percentiles, throughput, live counts, cost", async () => {
    await fc.assert(
      fc.asyncProperty(
        workload,
        fc.constantFrom("1h", "24h", "48h", "7d"),
        fc.option(fc.constantFrom(...TENANTS), { nil: undefined }),
        async (plans, window, tenantId) => {
          const { tracker, requests } = await seeded(storage, plans);
          try {
            const got = await tracker.stats.overview({ window, ...(tenantId ? { tenantId } : {}) });
            const hours = window.endsWith("d")
              ? Number.parseInt(window) * 24
              : Number.parseInt(window);
            // The exact rolling window: the last `hours` hours up to and including now.
            const from = NOW - hours * HOUR;
            const mine = requests.filter(tenantIs(tenantId));
            const inWindow = mine.filter(inRange(from, NOW + 1));
            const durations = completedDurations(inWindow);
            const queues = queueTimes(inWindow);
            const counts = countsByStatus(inWindow);
            const ended = counts.completed! + counts.failed! + counts.timeout! + counts.cancelled!;
            const live = mine.filter((r) => !r.plan.deleted);
            const pending = (lane: string) =>
              live.filter((r) => r.status === "pending" && r.lane === lane).length;

            expect(got.from.getTime()).toBe(from);
            expect(got.to.getTime()).toBe(NOW);
            expect(got.total).toBe(inWindow.length);
            expect(got.countsByStatus).toEqual(counts);
            expect(got.failureRatePct).toBe(failureRate(inWindow));
            expectWithin1Pct(got.latencyMs.p50, nearestRank(durations, 50));
            expectWithin1Pct(got.latencyMs.p95, nearestRank(durations, 95));
            expectWithin1Pct(got.latencyMs.p99, nearestRank(durations, 99));
            expectWithin1Pct(got.queueMs.p50, nearestRank(queues, 50));
            expectWithin1Pct(got.queueMs.p95, nearestRank(queues, 95));
            expect(got.throughputPerMin).toBe(ended / (hours * 60));
            expect(got.active).toBe(live.filter((r) => r.status === "running").length);
            expect(got.queueDepthByLane).toEqual({
              high: pending("high"),
              normal: pending("normal"),
              low: pending("low"),
            });
            expect(got.costUsd).toBe(usd(costOf(inWindow)));
          } finally {
            await tracker.close();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("timeseries: every minute, hour or UTC day bucket of the rolling window, empty ones included", async () => {
    await fc.assert(
      fc.asyncProperty(
        workload,
        fc.constantFrom(
          { bucket: "minute" as const, hours: 2 },
          { bucket: "hour" as const, hours: 24 },
          { bucket: "hour" as const, hours: 50 },
          { bucket: "day" as const, hours: 24 * 10 },
        ),
        fc.option(fc.constantFrom(...TENANTS), { nil: undefined }),
        async (plans, { bucket, hours }, tenantId) => {
          const { tracker, requests } = await seeded(storage, plans);
          try {
            const got = await tracker.stats.timeseries({
              hours,
              bucket,
              ...(tenantId ? { tenantId } : {}),
            });
            // The window [NOW - hours, NOW] cut at every bucket boundary: the first bucket
            // starts with the window, the last (the current one) ends with NOW.
            const step = bucket === "minute" ? MINUTE : bucket === "hour" ? HOUR : DAY;
            const from = NOW - hours * HOUR;
            const starts = [from];
            for (let s = Math.floor(from / step) * step + step; s <= NOW; s += step) starts.push(s);
            expect(got).toHaveLength(starts.length);
            const mine = requests.filter(tenantIs(tenantId));
            got.forEach((point, i) => {
              const start = starts[i]!;
              const end = starts[i + 1] ?? NOW + 1;
              const inBucket = mine.filter(inRange(start, end));
              const durations = completedDurations(inBucket);
              expect(point.start.getTime()).toBe(start);
              expect(point.total).toBe(inBucket.length);
              expect(point.countsByStatus).toEqual(countsByStatus(inBucket));
              expectWithin1Pct(point.latencyMs.p50, nearestRank(durations, 50));
              expectWithin1Pct(point.latencyMs.p95, nearestRank(durations, 95));
              expect(point.costUsd).toBe(usd(costOf(inBucket)));
            });
          } finally {
            await tracker.close();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("group statistics by tenant, channel, user, kind or source, in UTC day, ISO week or month buckets", async () => {
    const dimension = fc.oneof(
      fc.record({ by: fc.constant("tenantId" as const), value: fc.constantFrom(...TENANTS) }),
      fc.record({ by: fc.constant("channelId" as const), value: fc.constantFrom(...CHANNELS) }),
      fc.record({ by: fc.constant("userId" as const), value: fc.constantFrom(...USERS) }),
      fc.record({ by: fc.constant("kind" as const), value: fc.constantFrom(...KINDS) }),
      fc.record({ by: fc.constant("source" as const), value: fc.constantFrom(...SOURCES) }),
    );
    const period = fc.option(
      fc
        .tuple(fc.integer({ min: 0, max: 45 * DAY }), fc.integer({ min: 0, max: 45 * DAY }))
        .filter(([a, b]) => a !== b)
        .map(([a, b]) => ({ from: NOW - Math.max(a, b), to: NOW - Math.min(a, b) + DAY })),
      { nil: undefined },
    );
    await fc.assert(
      fc.asyncProperty(
        workload,
        dimension,
        fc.constantFrom("day" as const, "week" as const, "month" as const),
        period,
        async (plans, { by, value }, bucket, range) => {
          const { tracker, requests } = await seeded(storage, plans);
          try {
            const got = await tracker.stats.group({
              by,
              value,
              bucket,
              ...(range ? { from: new Date(range.from), to: range.to } : {}),
            });
            const end = Math.ceil((range?.to ?? NOW) / DAY) * DAY;
            const start = range ? Math.floor(range.from / DAY) * DAY : end - 30 * DAY;
            const members = requests
              .filter((r) => r.plan[by] === value)
              .filter(inRange(start, end));
            expect(got.from.getTime()).toBe(start);
            expect(got.to.getTime()).toBe(end);
            expect(got.total).toBe(members.length);
            expect(got.countsByStatus).toEqual(countsByStatus(members));
            expect(got.avgDurationMs).toBe(avgCompleted(members));
            expect(got.costUsd).toBe(usd(costOf(members)));

            const prompts = new Map<string, number>();
            for (const r of members) {
              if (r.plan.deleted || r.plan.prompt === null) continue;
              const key = plainNormalize(r.plan.prompt);
              if (key) prompts.set(key, (prompts.get(key) ?? 0) + 1);
            }
            const top = [...prompts.entries()]
              .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
              .slice(0, 10)
              .map(([prompt, count]) => ({ prompt, count }));
            expect(got.topPrompts).toEqual(top);

            const starts = [
              ...new Set(
                Array.from({ length: (end - start) / DAY }, (_, d) =>
                  plainBucketStart(start + d * DAY, bucket),
                ),
              ),
            ];
            expect(got.buckets.map((b) => b.start.getTime())).toEqual(starts);
            for (const b of got.buckets) {
              const inBucket = members.filter(
                (r) => plainBucketStart(r.createdAt, bucket) === b.start.getTime(),
              );
              expect(b.total).toBe(inBucket.length);
              expect(b.countsByStatus).toEqual(countsByStatus(inBucket));
              expect(b.avgDurationMs).toBe(avgCompleted(inBucket));
              expect(b.costUsd).toBe(usd(costOf(inBucket)));
            }
          } finally {
            await tracker.close();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("stage breakdown: runs, failure rate, p50/p95, total time and share per stage", async () => {
    await fc.assert(
      fc.asyncProperty(
        workload,
        fc.constantFrom("24h", "30d"),
        fc.option(fc.constantFrom(...KINDS), { nil: undefined }),
        fc.option(fc.constantFrom(...TENANTS), { nil: undefined }),
        async (plans, window, kind, tenantId) => {
          const { tracker, requests } = await seeded(storage, plans);
          try {
            const got = await tracker.stats.stages({
              window,
              ...(kind ? { kind } : {}),
              ...(tenantId ? { tenantId } : {}),
            });
            const hours = window === "24h" ? 24 : 30 * 24;
            const runs = requests
              .filter(inRange(NOW - hours * HOUR, NOW + 1))
              .filter(tenantIs(tenantId))
              .filter((r) => kind === undefined || r.plan.kind === kind)
              .flatMap((r) => r.stages);
            const names = [...new Set(runs.map((s) => s.name))];
            const allMs = runs.reduce((sum, s) => sum + s.ms, 0);
            const expected = names
              .map((name) => {
                const mine = runs.filter((s) => s.name === name);
                const failed = mine.filter((s) => s.status === "failed").length;
                const totalMs = mine.reduce((sum, s) => sum + s.ms, 0);
                return { name, mine, failed, totalMs };
              })
              .sort((a, b) => b.totalMs - a.totalMs || a.name.localeCompare(b.name));
            expect(got.map((s) => s.name)).toEqual(expected.map((s) => s.name));
            got.forEach((stage, i) => {
              const want = expected[i]!;
              const durations = want.mine.map((s) => s.ms);
              expect(stage.count).toBe(want.mine.length);
              expect(stage.failed).toBe(want.failed);
              expect(stage.completed).toBe(want.mine.length - want.failed);
              expect(stage.failureRatePct).toBe((want.failed / want.mine.length) * 100);
              expectWithin1Pct(stage.p50Ms, nearestRank(durations, 50));
              expectWithin1Pct(stage.p95Ms, nearestRank(durations, 95));
              expect(stage.totalMs).toBe(want.totalMs);
              expect(stage.sharePct).toBe(allMs === 0 ? null : (want.totalMs / allMs) * 100);
            });
          } finally {
            await tracker.close();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("cost report: totals and every breakdown, soft-deleted requests included", async () => {
    const period = fc.option(
      fc
        .tuple(fc.integer({ min: 0, max: 45 * DAY }), fc.integer({ min: 1, max: 20 * DAY }))
        .map(([back, length]) => ({ from: NOW - back, to: NOW - back + length })),
      { nil: undefined },
    );
    await fc.assert(
      fc.asyncProperty(
        workload,
        fc.option(fc.constantFrom(...TENANTS), { nil: undefined }),
        fc.option(fc.constantFrom(...SESSIONS), { nil: undefined }),
        period,
        async (plans, tenantId, sessionId, range) => {
          const { tracker, requests } = await seeded(storage, plans);
          try {
            const got = await tracker.costs.report({
              ...(tenantId ? { tenantId } : {}),
              ...(sessionId ? { sessionId } : {}),
              ...(range ? { from: range.from, to: new Date(range.to) } : {}),
            });
            const end = Math.ceil((range?.to ?? NOW) / DAY) * DAY;
            const start = range ? Math.floor(range.from / DAY) * DAY : end - 30 * DAY;
            const members = requests
              .filter(inRange(start, end))
              .filter(tenantIs(tenantId))
              .filter((r) => sessionId === undefined || r.plan.sessionId === sessionId);
            const total = costOf(members);
            expect(got.periodStart.getTime()).toBe(start);
            expect(got.periodEnd.getTime()).toBe(end);
            expect(got.totalRequests).toBe(members.length);
            expect(got.totalCostUsd).toBe(usd(total));
            expect(got.averageCostPerRequest).toBe(
              members.length === 0 ? null : usd(total) / members.length,
            );

            const breakdown = <K>(key: (r: Expected) => K) => {
              const out = new Map<K, { requests: number; micros: number }>();
              for (const r of members) {
                const entry = out.get(key(r)) ?? { requests: 0, micros: 0 };
                entry.requests += 1;
                entry.micros += r.costMicros;
                out.set(key(r), entry);
              }
              return out;
            };
            const asMap = <K>(rows: { key: K; requests: number; costUsd: number }[]) =>
              new Map(
                rows.map((r) => [
                  r.key,
                  { requests: r.requests, micros: Math.round(r.costUsd * 1e6) },
                ]),
              );
            expect(asMap(got.byOperation.map((r) => ({ key: r.kind, ...r })))).toEqual(
              breakdown((r) => r.plan.kind),
            );
            expect(asMap(got.byTenant.map((r) => ({ key: r.tenantId, ...r })))).toEqual(
              breakdown((r) => r.plan.tenantId),
            );
            const services = new Map<string, { records: number; micros: number }>();
            for (const cost of members.flatMap((r) => r.costs)) {
              const entry = services.get(cost.service) ?? { records: 0, micros: 0 };
              entry.records += 1;
              entry.micros += cost.micros;
              services.set(cost.service, entry);
            }
            expect(
              new Map(
                got.byService.map((s) => [
                  s.service,
                  { records: s.records, micros: Math.round(s.costUsd * 1e6) },
                ]),
              ),
            ).toEqual(services);

            const sessions = [...breakdown((r) => r.plan.sessionId).entries()]
              .filter(([id]) => id !== null)
              .sort((a, b) => b[1].micros - a[1].micros || (String(a[0]) < String(b[0]) ? -1 : 1));
            expect(got.bySession.top).toEqual(
              sessions.slice(0, 100).map(([id, s]) => ({
                sessionId: id,
                requests: s.requests,
                costUsd: usd(s.micros),
              })),
            );
            expect(got.bySession.other).toEqual({ sessions: 0, requests: 0, costUsd: 0 });
            for (const list of [got.byService, got.byOperation, got.byTenant, got.bySession.top]) {
              const costs = list.map((row) => row.costUsd);
              expect(costs).toEqual([...costs].sort((a, b) => b - a));
            }
          } finally {
            await tracker.close();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
