import { afterEach, beforeEach, expect, it } from "vitest";
import { createTracker, type Tracker, ValidationError } from "../../src/index.js";
import { fakeClock, silentLogger } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

describeEachStorage("stats and costs API", (storage) => {
  let tracker: Tracker;
  let time: ReturnType<typeof fakeClock>;
  beforeEach(async () => {
    time = fakeClock();
    tracker = await createTracker({
      ...(await storage.fresh()),
      clock: time.clock,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
  });
  afterEach(() => tracker.close());

  it("rejects bad input with a ValidationError naming the field", async () => {
    const field = async (promise: Promise<unknown>) => {
      const error = await promise.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      return (error as ValidationError).field;
    };
    expect(await field(tracker.stats.overview({ window: "24x" }))).toBe("window");
    expect(await field(tracker.stats.overview({ window: "500d" }))).toBe("window");
    expect(await field(tracker.stats.timeseries({ hours: 0 }))).toBe("hours");
    expect(await field(tracker.stats.timeseries({ hours: 72, bucket: "minute" }))).toBe("hours");
    expect(await field(tracker.stats.timeseries({ bucket: "year" as "day" }))).toBe("bucket");
    expect(await field(tracker.stats.group({ by: "guild" as "tenantId", value: "x" }))).toBe("by");
    expect(await field(tracker.stats.group({ by: "userId", value: "" }))).toBe("value");
    expect(await field(tracker.stats.group({ by: "userId", value: "u", from: 20, to: 10 }))).toBe(
      "to",
    );
    expect(await field(tracker.stats.stages({ kind: "bad kind!" }))).toBe("kind");
    expect(await field(tracker.costs.report({ from: new Date("nope") }))).toBe("from");
    expect(await field(tracker.costs.report({ tenant: "t" } as object))).toBe("input");
  });

  it("lists the 100 costliest sessions and sums the rest as other", async () => {
    for (let i = 0; i < 103; i++) {
      const req = await tracker.createRequest({ userId: "u", sessionId: `session-${i}` });
      await tracker.startRequest(req);
      await tracker.recordCost(req, { service: "openai", amountUsd: (i + 1) / 1000 });
    }
    await tracker.createRequest({ userId: "u" }); // no session: in the totals only
    const report = await tracker.costs.report();
    expect(report.bySession.top).toHaveLength(100);
    expect(report.bySession.top[0]).toEqual({
      sessionId: "session-102",
      requests: 1,
      costUsd: 0.103,
    });
    expect(report.bySession.top.at(-1)?.sessionId).toBe("session-3");
    expect(report.bySession.other).toEqual({ sessions: 3, requests: 3, costUsd: 0.006 });
    expect(report.totalRequests).toBe(104);
  });

  it("answers an empty store with zeros and nulls, not errors", async () => {
    const overview = await tracker.stats.overview();
    expect(overview).toMatchObject({
      total: 0,
      failureRatePct: null,
      latencyMs: { p50: null, p95: null, p99: null },
      costUsd: 0,
    });
    expect(await tracker.stats.stages()).toEqual([]);
    // At 12:00 sharp, the window 09:00-12:00: three whole hours and the current one, begun now.
    expect(await tracker.stats.timeseries({ hours: 3 })).toHaveLength(4);
    const report = await tracker.costs.report({ sessionId: "none" });
    expect(report).toMatchObject({ totalRequests: 0, averageCostPerRequest: null });
  });
});

describeEachStorage("user history cursor pagination", (storage) => {
  it("walks 2,000 requests page by page, newest first, with and without a status filter", async () => {
    const time = fakeClock();
    const tracker = await createTracker({
      ...(await storage.fresh()),
      clock: time.clock,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    const ids: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      // Pairs share a millisecond, so the id breaks ties.
      if (i % 2 === 0) time.advance(1);
      const req = await tracker.createRequest({
        userId: "heavy",
        id: `req_${String(i).padStart(5, "0")}`,
      });
      if (i % 3 === 0) await tracker.startRequest(req);
      ids.push(req.id);
    }
    const walk = async (status?: "running") => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await tracker.listRequests({
          userId: "heavy",
          limit: 7,
          ...(status ? { status } : {}),
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...page.items.map((r) => r.id));
        if (!page.nextCursor) return seen;
        cursor = page.nextCursor;
      }
    };
    expect(await walk()).toEqual([...ids].reverse());
    expect(await walk("running")).toEqual(ids.filter((_, i) => i % 3 === 0).reverse());
    await tracker.close();
  });
});
