import { expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger, fakeClock } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

describeEachStorage("conversation chains and count-bounded history", (storage) => {
  it("lists a request's children by parentId, newest first, through the library and the API", async () => {
    const time = fakeClock();
    const tracker = await createTracker({
      ...(await storage.fresh()),
      clock: time.clock,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    try {
      const root = await tracker.createRequest({ userId: "u", initialMessage: "hello" });
      const replies = [];
      for (let i = 0; i < 3; i++) {
        time.advance(1000);
        replies.push(await tracker.createRequest({ userId: "u", parentId: root.id }));
      }
      time.advance(1000);
      await tracker.createRequest({ userId: "u", parentId: replies[0]?.id });
      const children = await tracker.listRequests({ parentId: root.id });
      expect(children.total).toBe(3);
      expect(children.items.map((r) => r.id)).toEqual(replies.map((r) => r.id).reverse());
      const app = await buildApp({ tracker, logger: false });
      const viaApi = await app.inject({
        method: "GET",
        url: `/api/v1/requests?parentId=${root.id}&limit=2`,
      });
      expect(viaApi.json()).toMatchObject({ total: 3 });
      expect(viaApi.json().items).toHaveLength(2);
      const bad = await app.inject({ method: "GET", url: "/api/v1/requests?parentId=%00x" });
      expect(bad.json()).toMatchObject({ code: "RT_ERR_VALIDATION", field: "parentId" });
      await app.close();
    } finally {
      await tracker.close();
    }
  });

  it("keeps only the newest N requests with retentionMaxRequests, with their stages, events and costs", async () => {
    const time = fakeClock();
    const tracker = await createTracker({
      ...(await storage.fresh()),
      clock: time.clock,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
      retentionMaxRequests: 5,
    });
    try {
      const made = [];
      for (let i = 0; i < 8; i++) {
        time.advance(1000);
        const request = await tracker.createRequest({ userId: "u" });
        await tracker.recordCost(request, { service: "s", amountUsd: 0.01 });
        made.push(request.id);
      }
      const report = await tracker.sweep();
      expect(report.retention).toMatchObject({ requests: 3, costs: 3 });
      const kept = await tracker.listRequests({ limit: 100 });
      expect(kept.items.map((r) => r.id)).toEqual(made.slice(3).reverse());
      expect(await tracker.getRequest(made[0] as string)).toBeNull();
      // Under the bound nothing more goes.
      expect((await tracker.sweep()).retention).toBeNull();
    } finally {
      await tracker.close();
    }
  });

  it("refuses a retentionMaxRequests that is not a positive number", async () => {
    await expect(
      createTracker({ storage: ":memory:", retentionMaxRequests: 0 }),
    ).rejects.toMatchObject({ code: "RT_ERR_VALIDATION", field: "retentionMaxRequests" });
  });
});
