import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

type Json = Record<string, unknown>;

describeEachStorage("replay, compare, bulk replay and prices over HTTP", (storage) => {
  let tracker: Tracker;
  let app: FastifyInstance;
  const keys = { admin: "", alphaWriter: "", alphaViewer: "", betaWriter: "" };

  beforeEach(async () => {
    // A clock that moves on every read: each stage starts at its own millisecond, so "the
    // stages before fromStage" never depends on two of them sharing one.
    let now = Date.now();
    tracker = await createTracker({
      ...(await storage.fresh()),
      clock: () => ++now,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    app = await buildApp({ tracker, logger: false, open: false });
    keys.admin = (await tracker.keys.create({ role: "admin" })).key;
    keys.alphaWriter = (await tracker.keys.create({ role: "writer", tenantId: "alpha" })).key;
    keys.alphaViewer = (await tracker.keys.create({ role: "viewer", tenantId: "alpha" })).key;
    keys.betaWriter = (await tracker.keys.create({ role: "writer", tenantId: "beta" })).key;
  });
  afterEach(async () => {
    await app.close();
    await tracker.close();
  });

  const call = async (
    method: "GET" | "POST" | "DELETE",
    url: string,
    key: string,
    body?: unknown,
  ) => {
    const response = await app.inject({
      method,
      url: `/api/v1${url}`,
      headers: { authorization: `Bearer ${key}` },
      ...(body !== undefined ? { payload: body as Json } : {}),
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: (response.body ? response.json() : null) as Json,
    };
  };

  /** A finished alpha request that ran two stages, cost something, and failed at the second. */
  const finished = async () => {
    const r = await tracker.createRequest({
      userId: "u1",
      tenantId: "alpha",
      kind: "video",
      input: { prompt: "a cat" },
      tags: ["t1"],
    });
    await tracker.startRequest(r.id, "w");
    await tracker.startStage(r.id, "script");
    await tracker.completeStage(r.id, "script", { text: "scene" });
    await tracker.startStage(r.id, "render");
    await tracker.recordCost(r.id, { service: "veo", amountUsd: 0.5 });
    await tracker.failStage(r.id, "render", { message: "boom" });
    await tracker.failRequest(r.id, "boom");
    return r.id;
  };

  it("replays a request as a new one linked by replayOf, lists it, and compares the two", async () => {
    const id = await finished();
    const before = await tracker.getRequest(id);

    const made = await call("POST", `/requests/${id}/replay`, keys.alphaWriter, {
      fromStage: "render",
      input: { prompt: "a cat, again" },
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      replayOf: id,
      status: "pending",
      tenantId: "alpha",
      userId: "u1",
      kind: "video",
      input: { prompt: "a cat, again" },
    });
    expect(made.body.id).not.toBe(id);
    expect(made.body.tags).toEqual(expect.arrayContaining(["t1", "replay"]));
    const stages = made.body.stages as { name: string; reusedFrom: string | null }[];
    expect(stages.map((s) => [s.name, s.reusedFrom])).toEqual([["script", id]]);
    // The original is unchanged.
    expect(await tracker.getRequest(id)).toEqual(before);

    // An empty body replays as it was.
    const plain = await call("POST", `/requests/${id}/replay`, keys.admin);
    expect(plain.status).toBe(201);
    expect(plain.body.input).toEqual({ prompt: "a cat" });

    const detail = await call("GET", `/requests/${id}`, keys.alphaViewer);
    expect((detail.body.replays as { id: string }[]).map((r) => r.id).sort()).toEqual(
      [made.body.id, plain.body.id].sort(),
    );
    const replayDetail = await call("GET", `/requests/${String(made.body.id)}`, keys.alphaViewer);
    expect(replayDetail.body).toMatchObject({ replayOf: id, replays: [] });

    const listed = await call("GET", `/requests/${id}/replays`, keys.alphaViewer);
    expect(listed.status).toBe(200);
    expect((listed.body.items as { id: string }[]).map((r) => r.id).sort()).toEqual(
      [made.body.id, plain.body.id].sort(),
    );

    const compared = await call(
      "GET",
      `/requests/${id}/compare/${String(made.body.id)}`,
      keys.alphaViewer,
    );
    expect(compared.status).toBe(200);
    expect(compared.body).toMatchObject({
      left: { id, status: "failed", costByService: { veo: 0.5 }, replayOf: null },
      right: { id: made.body.id, status: "pending", replayOf: id, costUsd: 0 },
      costDeltaUsd: -0.5,
      sameStatus: false,
    });
  });

  it("answers another tenant's ids with 404 and writes nothing; a viewer key may not replay", async () => {
    const id = await finished();
    const other = await tracker.createRequest({ userId: "u2", tenantId: "beta" });
    const count = async () => (await tracker.listRequests({ limit: 100 })).items.length;
    const n = await count();

    const attempts = [
      await call("POST", `/requests/${id}/replay`, keys.betaWriter, {}),
      await call("GET", `/requests/${id}/replays`, keys.betaWriter),
      await call("GET", `/requests/${id}/compare/${other.id}`, keys.betaWriter),
      await call("GET", `/requests/${other.id}/compare/${id}`, keys.betaWriter),
    ];
    for (const a of attempts) {
      expect(a.status).toBe(404);
      expect(a.body.code).toBe("RT_ERR_NOT_FOUND");
    }
    const viewer = await call("POST", `/requests/${id}/replay`, keys.alphaViewer, {});
    expect(viewer.status).toBe(403);
    expect(await count()).toBe(n);
  });

  it("refuses bad replays with a coded 4xx naming the field, and writes nothing", async () => {
    const id = await finished();
    const deleted = await tracker.createRequest({ userId: "u", tenantId: "alpha" });
    await tracker.deleteRequest(deleted.id);
    const count = async () => (await tracker.listRequests({ limit: 100 })).items.length;
    const n = await count();

    const never = await call("POST", `/requests/${id}/replay`, keys.admin, { fromStage: "upload" });
    expect(never.status).toBe(400);
    expect(never.body).toMatchObject({ code: "RT_ERR_VALIDATION", field: "fromStage" });
    expect(String(never.body.message)).toContain("never ran stage upload");

    const unknownOption = await call("POST", `/requests/${id}/replay`, keys.admin, {
      fromStag: "x",
    });
    expect(unknownOption.status).toBe(400);
    expect(String(unknownOption.body.message)).toContain("fromStag");

    const missing = await call("POST", `/requests/req_nope/replay`, keys.admin, {});
    expect(missing.status).toBe(404);
    const gone = await call("POST", `/requests/${deleted.id}/replay`, keys.admin, {});
    expect(gone.status).toBe(404);
    expect(await count()).toBe(n);
  });

  it("budget-checks a replay: 429 with Retry-After when the budget is spent", async () => {
    const id = await finished();
    await tracker.budgets.create({
      tenantId: "alpha",
      period: "day",
      amountUsd: 0.1,
      mode: "enforce",
    });
    await tracker.budgets.evaluate();
    const refused = await call("POST", `/requests/${id}/replay`, keys.alphaWriter, {});
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe("RT_ERR_BUDGET_EXCEEDED");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect((await call("GET", `/requests/${id}/replays`, keys.admin)).body.items).toEqual([]);
  });

  it("runs a bulk replay by filter as a job, confined to the key's tenant, each request once", async () => {
    const failedAlpha = [await finished(), await finished()];
    const betaFailed = await tracker.createRequest({ userId: "u", tenantId: "beta" });
    await tracker.startRequest(betaFailed.id, "w");
    await tracker.failRequest(betaFailed.id, "x");

    const forbidden = await call("POST", "/replays", keys.alphaWriter, {
      filter: { status: "failed", tenantId: "beta" },
    });
    expect(forbidden.status).toBe(403);

    const started = await call("POST", "/replays", keys.alphaWriter, {
      filter: { status: "failed" },
      ratePerSecond: 1000,
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ total: 2, filter: { tenantId: "alpha" } });
    const jobId = String(started.body.id);

    let job = started.body;
    for (let i = 0; i < 200 && job.status !== "completed"; i++) {
      await new Promise((r) => setImmediate(r));
      job = (await call("GET", `/replays/${jobId}`, keys.alphaViewer)).body;
    }
    expect(job).toMatchObject({ status: "completed", done: 2, total: 2 });
    for (const id of failedAlpha) {
      expect((await call("GET", `/requests/${id}/replays`, keys.admin)).body.items).toHaveLength(1);
    }
    expect(
      (await call("GET", `/requests/${betaFailed.id}/replays`, keys.admin)).body.items,
    ).toEqual([]);
    // Resuming a completed job replays nothing again.
    expect((await call("POST", `/replays/${jobId}/resume`, keys.alphaWriter)).status).toBe(202);
    expect(
      (await call("GET", `/requests/${failedAlpha[0]}/replays`, keys.admin)).body.items,
    ).toHaveLength(1);

    // Another tenant neither sees nor lists the job.
    expect((await call("GET", `/replays/${jobId}`, keys.betaWriter)).status).toBe(404);
    expect((await call("GET", "/replays", keys.betaWriter)).body.items).toEqual([]);
    expect((await call("GET", "/replays", keys.admin)).body.items).toHaveLength(1);

    const bad = await call("POST", "/replays", keys.admin, { filter: { status: "done" } });
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toContain("status");
  });

  it("reads the price table with any key, changes it with an admin key only, and prices usage by it", async () => {
    const price = {
      service: "openai",
      model: "gpt-4o*",
      inputUsdPerMillion: 2.5,
      outputUsdPerMillion: 10,
    };
    expect((await call("POST", "/prices", keys.alphaWriter, price)).status).toBe(403);
    const set = await call("POST", "/prices", keys.admin, price);
    expect(set.status).toBe(201);
    expect(set.body).toMatchObject({ ...price, unitUsd: null });

    const listed = await call("GET", "/prices?service=openai", keys.alphaViewer);
    expect(listed.status).toBe(200);
    expect((listed.body.items as Json[]).map((p) => p.id)).toEqual([set.body.id]);
    expect((await call("GET", "/prices?service=veo", keys.alphaViewer)).body.items).toEqual([]);

    const r = await tracker.createRequest({ userId: "u", tenantId: "alpha" });
    const cost = await call("POST", `/requests/${r.id}/costs`, keys.alphaWriter, {
      service: "openai",
      usage: { model: "gpt-4o-mini", inputTokens: 1_000_000, outputTokens: 100_000 },
    });
    expect(cost.status).toBe(201);
    expect((await tracker.getRequest(r.id))?.costUsd).toBeCloseTo(3.5, 10);

    const bad = await call("POST", "/prices", keys.admin, {
      service: "openai",
      model: "x",
      inputUsdPerMillion: -1,
    });
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toContain("inputUsdPerMillion");
    const none = await call("POST", "/prices", keys.admin, { service: "openai", model: "x" });
    expect(none.status).toBe(400);
    expect((await call("GET", "/prices", keys.admin)).body.items).toHaveLength(1);

    expect((await call("DELETE", `/prices/${String(set.body.id)}`, keys.alphaWriter)).status).toBe(
      403,
    );
    expect((await call("DELETE", `/prices/${String(set.body.id)}`, keys.admin)).status).toBe(204);
    const again = await call("DELETE", `/prices/${String(set.body.id)}`, keys.admin);
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("RT_ERR_NOT_FOUND");
  });
  it("the cost report over HTTP takes replays=include|exclude|only", async () => {
    const id = await finished();
    const replay = await tracker.replay(id);
    await tracker.recordCost(replay, { service: "veo", amountUsd: 2 });
    await tracker.flush();
    const report = async (mode: string) => {
      const response = await call("GET", `/costs/report?replays=${mode}`, keys.alphaViewer);
      expect(response.status).toBe(200);
      return response.body;
    };
    expect(await report("include")).toMatchObject({ totalRequests: 2, totalCostUsd: 2.5 });
    expect(await report("exclude")).toMatchObject({ totalRequests: 1, totalCostUsd: 0.5 });
    expect(await report("only")).toMatchObject({ totalRequests: 1, totalCostUsd: 2 });
    const bad = await call("GET", "/costs/report?replays=some", keys.alphaViewer);
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toContain("replays");
  });
});
