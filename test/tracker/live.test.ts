import { describe, expect, it } from "vitest";
import { createTracker, type LiveEvent } from "../../src/index.js";
import { captureLogger, fakeClock } from "../support/helpers.js";

describe("live changes", () => {
  it("publishes every committed change with the request's tenant, kind and status", async () => {
    const time = fakeClock();
    const tracker = await createTracker({
      storage: ":memory:",
      clock: time.clock,
      logger: captureLogger().logger,
      watchdogIntervalMs: 0,
    });
    const seen: LiveEvent[] = [];
    const unsubscribe = tracker.subscribe((event) => seen.push(event));
    const req = await tracker.createRequest({
      userId: "u",
      tenantId: "t1",
      kind: "video_generation",
    });
    await tracker.claimNext({ workerId: "w1" });
    await tracker.trackStage(req, "render", () => 1);
    await tracker.logEvent(req, { type: "api_call", message: "Calling Veo", severity: "warning" });
    await tracker.recordCost(req, { service: "veo", amountUsd: 0.5 });
    await tracker.completeRequest(req);
    tracker.alert({ name: "circuit_breaker_open", message: "veo breaker opened", tenantId: "t1" });
    unsubscribe();
    await tracker.deleteRequest(req);

    expect(seen.map((e) => [e.type, e.type === "alert" ? e.name : e.status])).toEqual([
      ["request.created", "pending"],
      ["request.updated", "running"],
      ["stage.updated", "running"],
      ["stage.updated", "running"],
      ["event.logged", "running"],
      ["request.updated", "running"],
      ["request.updated", "completed"],
      ["alert", "circuit_breaker_open"],
    ]);
    for (const event of seen.slice(0, 7)) {
      expect(event).toMatchObject({ requestId: req.id, tenantId: "t1", kind: "video_generation" });
    }
    expect(seen[3]).toMatchObject({ data: { stage: "render", status: "completed" } });
    expect(seen[4]).toMatchObject({ data: { type: "api_call", severity: "warning" } });
    expect(seen[6]).toMatchObject({ data: { from: "running", to: "completed" } });
    await tracker.close();
  });

  it("a subscriber that throws does not fail the write", async () => {
    const { logger, lines } = captureLogger();
    const tracker = await createTracker({ storage: ":memory:", logger, watchdogIntervalMs: 0 });
    tracker.subscribe(() => {
      throw new Error("buggy subscriber");
    });
    const req = await tracker.createRequest({ userId: "u" });
    expect((await tracker.getRequest(req))?.status).toBe("pending");
    expect(lines.some((l) => l.msg === "change subscriber threw")).toBe(true);
    await tracker.close();
  });
});
