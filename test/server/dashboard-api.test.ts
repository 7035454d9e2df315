import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../../src/server/app.js";
import { captureLogger } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

const HOUR = 3_600_000;

describeEachStorage("API parts the dashboard reads", (storage) => {
  let tracker: Tracker;
  let app: FastifyInstance;
  let offset = 0;
  let admin = "";

  beforeEach(async () => {
    offset = 0;
    tracker = await createTracker({
      ...(await storage.fresh()),
      clock: () => Date.now() + offset,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    app = await buildApp({ tracker, logger: false, open: false });
    admin = (await tracker.keys.create({ role: "admin" })).key;
  });
  afterEach(async () => {
    await app.close();
    await tracker.close();
  });

  const get = async (url: string, key = admin) => {
    const response = await app.inject({ url, headers: { authorization: `Bearer ${key}` } });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  };

  it("splits each listed request's cost per service, largest first, in one call", async () => {
    const a = await tracker.createRequest({ userId: "u", tenantId: "alpha" });
    const b = await tracker.createRequest({ userId: "u", tenantId: "beta" });
    const none = await tracker.createRequest({ userId: "u", tenantId: "alpha" });
    await tracker.recordCost(a.id, { service: "openai", amountUsd: 0.01 });
    await tracker.recordCost(a.id, { service: "veo", amountUsd: 0.25 });
    await tracker.recordCost(a.id, { service: "openai", amountUsd: 0.02 });
    await tracker.recordCost(b.id, { service: "gemini", amountUsd: 0.5 });

    const all = await get(`/api/v1/costs/by-request?ids=${a.id},${b.id},${none.id}`);
    expect(all.status).toBe(200);
    expect(all.body.items).toEqual(
      [
        { requestId: a.id, service: "veo", costUsd: 0.25, records: 1 },
        { requestId: a.id, service: "openai", costUsd: 0.03, records: 2 },
        { requestId: b.id, service: "gemini", costUsd: 0.5, records: 1 },
      ].sort((x, y) => x.requestId.localeCompare(y.requestId)),
    );
    // The split adds up to the row's cost.
    const row = (await tracker.getRequest(a.id))?.costUsd;
    expect(row).toBeCloseTo(0.28, 10);

    const alpha = (await tracker.keys.create({ role: "viewer", tenantId: "alpha" })).key;
    const confined = await get(`/api/v1/costs/by-request?ids=${a.id},${b.id}`, alpha);
    expect((confined.body.items as { requestId: string }[]).map((i) => i.requestId)).toEqual([
      a.id,
      a.id,
    ]);

    for (const query of ["", "?ids=", `?ids=${a.id},,x`, `?ids=${"r,".repeat(200)}r`]) {
      const bad = await get(`/api/v1/costs/by-request${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body).toMatchObject({ code: "RT_ERR_VALIDATION" });
      expect(String(bad.body.message), query).toContain("ids");
    }
  });

  it("keeps recent alerts, newest first, each tenant seeing its own and untenanted ones", async () => {
    tracker.alert({ name: "circuit_breaker_open", message: "gemini circuit breaker is OPEN" });
    tracker.alert({ name: "budget_threshold", message: "alpha at 80%", tenantId: "alpha" });
    tracker.alert({ name: "budget_threshold", message: "beta at 80%", tenantId: "beta" });
    const all = await get("/api/v1/alerts");
    expect(all.status).toBe(200);
    expect((all.body.items as { message: string }[]).map((a) => a.message)).toEqual([
      "beta at 80%",
      "alpha at 80%",
      "gemini circuit breaker is OPEN",
    ]);
    const alpha = (await tracker.keys.create({ role: "viewer", tenantId: "alpha" })).key;
    const mine = await get("/api/v1/alerts?limit=10", alpha);
    expect((mine.body.items as { message: string }[]).map((a) => a.message)).toEqual([
      "alpha at 80%",
      "gemini circuit breaker is OPEN",
    ]);
    expect((await get("/api/v1/alerts?limit=1")).body.items).toHaveLength(1);
    const bad = await get("/api/v1/alerts?limit=0");
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toContain("limit");
  });

  it("draws a budget's burn-down: cumulative spend per step, ending at the status's spend", async () => {
    const budget = await tracker.budgets.create({
      tenantId: "alpha",
      period: "month",
      amountUsd: 10,
    });
    const request = await tracker.createRequest({ userId: "u", tenantId: "alpha" });
    const status0 = await get(`/api/v1/budgets/${budget.id}/status`);
    const periodStart = Date.parse(status0.body.periodStart as string);
    // Costs at known times of the period: its first hour, and now.
    offset = periodStart + HOUR / 2 - Date.now();
    await tracker.recordCost(request.id, { service: "openai", amountUsd: 1.5 });
    offset = 0;
    await tracker.recordCost(request.id, { service: "openai", amountUsd: 0.5 });
    const beyond = await tracker.createRequest({ userId: "u", tenantId: "beta" });
    await tracker.recordCost(beyond.id, { service: "openai", amountUsd: 4 });

    const { status, body } = await get(`/api/v1/budgets/${budget.id}/burndown`);
    expect(status).toBe(200);
    const points = body.points as { at: string; spentUsd: number }[];
    expect(points.length).toBeGreaterThanOrEqual(1);
    // (In the first hour of a month both costs fall in its first step.)
    expect(points[0]?.spentUsd).toBe(points.length > 1 ? 1.5 : 2);
    expect(points.at(-1)?.spentUsd).toBe(2);
    const stat = (await get(`/api/v1/budgets/${budget.id}/status`)).body;
    expect(body.spentUsd).toBe(stat.spentUsd);
    expect(body).toMatchObject({ limitUsd: 10, periodEnd: stat.periodEnd });
    expect(points.map((p) => p.spentUsd)).toEqual([...points.map((p) => p.spentUsd)].sort());
    // The pace moves with the clock between the two calls: equal to the micro-dollar or so.
    expect(body.projectedUsd as number).toBeCloseTo(stat.projectedUsd as number, 4);

    const beta = (await tracker.keys.create({ role: "viewer", tenantId: "beta" })).key;
    expect((await get(`/api/v1/budgets/${budget.id}/burndown`, beta)).status).toBe(404);
    expect((await get(`/api/v1/budgets/nope/burndown`)).status).toBe(404);
  });

  it("whoami lists the optional features whose routes this server has", async () => {
    // Both routes exist: POST /requests/:id/replay and GET /requests/:id/compare/:otherId.
    expect((await get("/api/v1/whoami")).body.features).toEqual(["replay", "compare"]);
    const viewer = (await tracker.keys.create({ role: "viewer", tenantId: "beta" })).key;
    expect((await get("/api/v1/whoami", viewer)).body).toMatchObject({
      role: "viewer",
      features: ["replay", "compare"],
    });
  });
});
