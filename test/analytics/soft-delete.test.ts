import { expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { fakeClock, silentLogger } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

describeEachStorage("soft-deleted requests (behaviour 3)", (storage) => {
  it("count in cost reports and not in request lists", async () => {
    const time = fakeClock();
    const tracker = await createTracker({
      ...(await storage.fresh()),
      clock: time.clock,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    const make = async (amountUsd: number) => {
      const req = await tracker.createRequest({
        userId: "u1",
        tenantId: "company_123",
        sessionId: "session_abc",
        kind: "chat_message",
      });
      await tracker.startRequest(req);
      await tracker.recordCost(req, { service: "openai", amountUsd });
      await tracker.completeRequest(req);
      return req;
    };
    await make(0.5);
    const gone = await make(0.25);
    await tracker.deleteRequest(gone.id);

    const list = await tracker.listRequests({ tenantId: "company_123" });
    expect(list.items.map((r) => r.id)).not.toContain(gone.id);
    expect(list.total).toBe(1);
    expect(await tracker.getUserRequests("u1")).toHaveLength(1);
    expect(await tracker.getRequest(gone)).toBeNull();
    const withDeleted = await tracker.listRequests({
      tenantId: "company_123",
      includeDeleted: true,
    });
    expect(withDeleted.total).toBe(2);

    const report = await tracker.costs.report({ tenantId: "company_123" });
    expect(report.totalRequests).toBe(2);
    expect(report.totalCostUsd).toBe(0.75);
    expect(report.byService).toEqual([{ service: "openai", records: 2, costUsd: 0.75 }]);
    expect(report.byOperation).toEqual([{ kind: "chat_message", requests: 2, costUsd: 0.75 }]);
    expect(report.byTenant).toEqual([{ tenantId: "company_123", requests: 2, costUsd: 0.75 }]);
    expect(report.bySession.top).toEqual([
      { sessionId: "session_abc", requests: 2, costUsd: 0.75 },
    ]);
    expect(report.averageCostPerRequest).toBe(0.375);
    const bySession = await tracker.costs.report({ sessionId: "session_abc" });
    expect(bySession.totalCostUsd).toBe(0.75);

    // Stats are history too: the deleted request still counts there (docs/analytics.md).
    expect((await tracker.stats.overview()).countsByStatus.completed).toBe(2);

    // Only a hard delete (retention, cleanup) takes it out of the figures.
    time.advance(1);
    await tracker.cleanup({ olderThan: time.now() });
    expect((await tracker.costs.report()).totalRequests).toBe(0);
    await tracker.close();
  });
});
