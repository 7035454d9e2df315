import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Tracker } from "../../src/index.js";
import { buildApp } from "../../src/server/app.js";
import { clockedTracker, describeEachStorage } from "../support/storages.js";

const JAN_15_NOON = Date.UTC(2026, 0, 15, 12, 0, 0);

describeEachStorage("REST replay, compare and prices", (storage) => {
  let tracker: Tracker;
  let app: FastifyInstance;
  let time: Awaited<ReturnType<typeof clockedTracker>>["time"];
  const keys = { writerA: "", viewerA: "", writerB: "", admin: "" };

  beforeEach(async () => {
    ({ tracker, time } = await clockedTracker(storage, JAN_15_NOON));
    keys.writerA = (await tracker.keys.create({ role: "writer", tenantId: "A" })).key;
    keys.viewerA = (await tracker.keys.create({ role: "viewer", tenantId: "A" })).key;
    keys.writerB = (await tracker.keys.create({ role: "writer", tenantId: "B" })).key;
    keys.admin = (await tracker.keys.create({ role: "admin" })).key;
    app = await buildApp({ tracker, logger: false });
  });
  afterEach(async () => {
    await app?.close();
    await tracker.close();
  });

  const call = (method: "GET" | "POST" | "DELETE", url: string, key: string, payload?: object) =>
    app.inject({
      method,
      url: `/api/v1${url}`,
      headers: { authorization: `Bearer ${key}` },
      ...(payload !== undefined ? { payload } : {}),
    });

  /** A run of tenant A: script completed, render failed, $0.50 of openai. */
  const failedRun = async () => {
    const r = await tracker.createRequest({ userId: "u1", tenantId: "A", input: { n: 1 } });
    await tracker.startRequest(r, "w1");
    await tracker.trackStage(r, "script", () => ({ script: "meow" }));
    time.advance(10);
    await tracker.recordCost(r, { service: "openai", amountUsd: 0.5 });
    await tracker
      .trackStage(r, "render", () => {
        throw new Error("render crashed");
      })
      .catch(() => undefined);
    await tracker.failRequest(r, "render crashed");
    await tracker.flush();
    return r.id;
  };
  const count = async () => (await tracker.listRequests({ includeDeleted: true })).total;

  it("POST /requests/:id/replay makes a linked request; GET shows replayOf and the replays", async () => {
    const id = await failedRun();
    const response = await call("POST", `/requests/${id}/replay`, keys.writerA, {
      fromStage: "render",
      input: { n: 2 },
      tags: ["again"],
    });
    expect(response.statusCode).toBe(201);
    const replay = response.json();
    expect(replay).toMatchObject({ replayOf: id, tenantId: "A", input: { n: 2 } });
    expect(replay.tags).toEqual(["again", "replay"]);
    const copy = await call("GET", `/requests/${replay.id}`, keys.viewerA);
    expect(copy.json().replayOf).toBe(id);
    expect(copy.json().stages.map((s: { name: string }) => s.name)).toEqual(["script"]);
    const original = await call("GET", `/requests/${id}`, keys.viewerA);
    expect(original.json()).toMatchObject({ replayOf: null, status: "failed" });
    expect(original.json().replays).toEqual([
      { id: replay.id, status: "pending", createdAt: new Date(JAN_15_NOON + 10).toISOString() },
    ]);
  });

  it("replay without a body keeps the original's input", async () => {
    const id = await failedRun();
    const response = await call("POST", `/requests/${id}/replay`, keys.writerA);
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ replayOf: id, input: { n: 1 } });
  });

  it("refuses a viewer key (403), another tenant (404), unknown and deleted requests (404) and writes nothing", async () => {
    const id = await failedRun();
    const before = await count();
    expect((await call("POST", `/requests/${id}/replay`, keys.viewerA, {})).statusCode).toBe(403);
    const other = await call("POST", `/requests/${id}/replay`, keys.writerB, {});
    expect(other.statusCode).toBe(404);
    expect(other.json()).toMatchObject({ code: "RT_ERR_NOT_FOUND", field: "id" });
    const unknown = await call("POST", "/requests/req_nope/replay", keys.writerA, {});
    expect(unknown.statusCode).toBe(404);
    await tracker.deleteRequest(id);
    const deleted = await call("POST", `/requests/${id}/replay`, keys.writerA, {});
    expect(deleted.statusCode).toBe(404);
    expect(deleted.json()).toMatchObject({ code: "RT_ERR_NOT_FOUND", field: "id" });
    expect(await count()).toBe(before);
  });

  it("a fromStage the request never ran, or an unknown field, is a coded 400 naming it", async () => {
    const id = await failedRun();
    const before = await count();
    const never = await call("POST", `/requests/${id}/replay`, keys.writerA, {
      fromStage: "upload",
    });
    expect(never.statusCode).toBe(400);
    expect(never.json()).toMatchObject({ code: "RT_ERR_VALIDATION", field: "fromStage" });
    const extra = await call("POST", `/requests/${id}/replay`, keys.writerA, { stage: "x" });
    expect(extra.statusCode).toBe(400);
    expect(extra.json()).toMatchObject({ code: "RT_ERR_VALIDATION", field: "stage" });
    expect(await count()).toBe(before);
  });

  it("a spent enforce budget answers 429 with Retry-After and the budget, and writes nothing", async () => {
    const id = await failedRun();
    const budget = await tracker.budgets.create({
      tenantId: "A",
      period: "day",
      amountUsd: 0.5,
      mode: "enforce",
    });
    const before = await count();
    const response = await call("POST", `/requests/${id}/replay`, keys.writerA, {});
    expect(response.statusCode).toBe(429);
    expect(response.json()).toMatchObject({ code: "RT_ERR_BUDGET_EXCEEDED" });
    expect(response.json().budget.budgetId).toBe(budget.id);
    // The period (a UTC day) ends at midnight, 12 hours after the replay was refused.
    expect(Number(response.headers["retry-after"])).toBe(12 * 3600);
    expect(await count()).toBe(before);
  });

  it("GET /requests/:id/compare/:otherId gives both sides, confined to the caller's tenant", async () => {
    const id = await failedRun();
    const replay = await tracker.replay(id, { fromStage: "render" });
    await tracker.startRequest(replay, "w2");
    await tracker.recordCost(replay, { service: "veo", amountUsd: 2 });
    time.advance(100);
    await tracker.completeRequest(replay, { url: "v.mp4" });
    await tracker.flush();
    const response = await call("GET", `/requests/${id}/compare/${replay.id}`, keys.viewerA);
    expect(response.statusCode).toBe(200);
    const c = response.json();
    expect(c.left).toMatchObject({ id, status: "failed", costByService: { openai: 0.5 } });
    expect(c.right).toMatchObject({
      id: replay.id,
      replayOf: id,
      status: "completed",
      durationMs: 100,
      costByService: { veo: 2 },
      result: { url: "v.mp4" },
    });
    expect(c.right.stages).toEqual([expect.objectContaining({ name: "script", reused: true })]);
    expect(c).toMatchObject({ costDeltaUsd: 1.5, sameStatus: false, sameResult: false });
    const theirs = await tracker.createRequest({ userId: "u", tenantId: "B" });
    await tracker.flush();
    const across = await call("GET", `/requests/${id}/compare/${theirs.id}`, keys.viewerA);
    expect(across.statusCode).toBe(404);
    expect(across.json()).toMatchObject({ code: "RT_ERR_NOT_FOUND", field: "otherId" });
    expect(across.body).not.toContain('"B"');
  });

  it("whoami advertises replay and compare", async () => {
    const me = await call("GET", "/whoami", keys.viewerA);
    expect(me.json().features).toEqual(["replay", "compare"]);
  });

  it("prices: anyone reads versions, only an admin key sets or deletes them", async () => {
    const price = { service: "openai", model: "gpt-4o*", inputUsdPerMillion: 2.5 };
    const refused = await call("POST", "/prices", keys.writerA, price);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe("RT_ERR_FORBIDDEN");
    const first = await call("POST", "/prices", keys.admin, {
      ...price,
      effectiveFrom: "2026-01-01T00:00:00Z",
    });
    expect(first.statusCode).toBe(201);
    const second = await call("POST", "/prices", keys.admin, {
      ...price,
      inputUsdPerMillion: 2,
      effectiveFrom: "2026-01-10T00:00:00Z",
    });
    expect(second.statusCode).toBe(201);
    await call("POST", "/prices", keys.admin, { service: "veo", model: "*", unitUsd: 0.35 });
    const list = await call("GET", "/prices?service=openai", keys.viewerA);
    expect(list.statusCode).toBe(200);
    expect(
      list
        .json()
        .items.map((p: { inputUsdPerMillion: number; effectiveFrom: string }) => [
          p.inputUsdPerMillion,
          p.effectiveFrom,
        ]),
    ).toEqual([
      [2.5, "2026-01-01T00:00:00.000Z"],
      [2, "2026-01-10T00:00:00.000Z"],
    ]);
    // The newer version prices a cost recorded now.
    const r = await tracker.createRequest({ userId: "u", tenantId: "A" });
    await tracker.recordCost(r, {
      service: "openai",
      usage: { model: "gpt-4o-mini", inputTokens: 1_000_000 },
    });
    expect((await tracker.getRequest(r.id))?.costUsd).toBe(2);
    const id = first.json().id as string;
    expect((await call("DELETE", `/prices/${id}`, keys.writerA)).statusCode).toBe(403);
    expect((await call("DELETE", `/prices/${id}`, keys.admin)).statusCode).toBe(204);
    const gone = await call("DELETE", `/prices/${id}`, keys.admin);
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toMatchObject({ code: "RT_ERR_NOT_FOUND", field: "id" });
  });

  it("bad price rows are a coded 400 naming the field, and nothing is written", async () => {
    const bad: [object, string][] = [
      [{ service: "openai", model: "m", inputUsdPerMillion: -1 }, "inputUsdPerMillion"],
      [{ service: "openai", model: "m" }, "price"],
      [{ service: "", model: "m", unitUsd: 1 }, "service"],
      [{ service: "openai", model: "m", unitUsd: 1, effectiveFrom: "soon" }, "effectiveFrom"],
      [{ service: "openai", model: "m", unitUsd: 1, currency: "EUR" }, "currency"],
    ];
    for (const [row, field] of bad) {
      const response = await call("POST", "/prices", keys.admin, row);
      expect(response.statusCode, JSON.stringify(row)).toBe(400);
      expect(response.json()).toMatchObject({ code: "RT_ERR_VALIDATION", field });
    }
    expect((await call("GET", "/prices?service=bad%20name", keys.admin)).statusCode).toBe(400);
    expect(await tracker.prices.list()).toEqual([]);
  });

  it("the cost report takes replays=include|exclude|only", async () => {
    const id = await failedRun();
    const replay = await tracker.replay(id);
    await tracker.recordCost(replay, { service: "veo", amountUsd: 2 });
    await tracker.flush();
    const report = async (mode: string) => {
      const q = `from=2026-01-15T00:00:00Z&to=2026-01-16T00:00:00Z&replays=${mode}`;
      const response = await call("GET", `/costs/report?${q}`, keys.viewerA);
      expect(response.statusCode).toBe(200);
      return response.json();
    };
    expect(await report("include")).toMatchObject({ totalRequests: 2, totalCostUsd: 2.5 });
    expect(await report("exclude")).toMatchObject({ totalRequests: 1, totalCostUsd: 0.5 });
    expect(await report("only")).toMatchObject({ totalRequests: 1, totalCostUsd: 2 });
    const bad = await call("GET", "/costs/report?replays=some", keys.viewerA);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe("replays");
  });
});
