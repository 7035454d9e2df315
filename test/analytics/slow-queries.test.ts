import { expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { captureLogger, fakeClock, LEVEL } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

describeEachStorage("slow stats queries (behaviour 4)", (storage) => {
  it("logs each query slower than 100 ms with its type and parameter count, at warn above 500 ms", async () => {
    const time = fakeClock();
    let queryCost = 0;
    // Every clock read during a query moves time by `queryCost`: a slow query without sleeping.
    const clock = () => {
      time.advance(queryCost);
      return time.now();
    };
    const { logger, lines } = captureLogger();
    const tracker = await createTracker({
      ...(await storage.fresh()),
      logger,
      clock,
      watchdogIntervalMs: 0,
    });
    await tracker.createRequest({ userId: "u", tenantId: "t" });
    const queries: [string, number, () => Promise<unknown>][] = [
      ["stats_overview", 2, () => tracker.stats.overview({ window: "24h", tenantId: "t" })],
      ["stats_timeseries", 1, () => tracker.stats.timeseries({ hours: 6 })],
      ["stats_group", 3, () => tracker.stats.group({ by: "tenantId", value: "t", bucket: "week" })],
      ["stats_stages", 0, () => tracker.stats.stages()],
      ["cost_report", 1, () => tracker.costs.report({ tenantId: "t" })],
    ];
    for (const [type, params, run] of queries) {
      lines.length = 0;
      queryCost = 150;
      await run();
      queryCost = 600;
      await run();
      queryCost = 50;
      await run();
      const slow = lines.filter((l) => l.msg === "slow query");
      expect(slow, type).toHaveLength(2);
      expect(slow[0]).toMatchObject({ level: LEVEL.info, query_type: type, param_count: params });
      expect(slow[1]).toMatchObject({ level: LEVEL.warn, query_type: type, param_count: params });
      expect(slow[0]?.duration_ms as number).toBeGreaterThan(100);
      expect(slow[1]?.duration_ms as number).toBeGreaterThan(500);
    }
    queryCost = 0;
    await tracker.close();
  });
});
