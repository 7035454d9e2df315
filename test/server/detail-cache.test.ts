import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { DetailCache } from "../../src/server/detail-cache.js";
import { buildApp } from "../support/app.js";
import { silentLogger, tempDir } from "../support/helpers.js";
import { describeEachStorage, type StorageOptions } from "../support/storages.js";

/**
 * GET /api/v1/requests/:id keeps recently read details (src/server/detail-cache.ts). Whatever
 * it keeps, every answer must be the stored state after every write made before the GET, by
 * any way in, and another tenant's request must stay a 404.
 */
describeEachStorage("GET /requests/:id detail cache", (storage) => {
  let tracker: Tracker;
  let other: Tracker;
  let app: FastifyInstance;
  let storageOptions: StorageOptions;
  const files = tempDir("reqtrack-detail-cache-");
  const keys = { admin: "", viewerA: "", viewerB: "", writerA: "" };
  /** Detail reads that reached the store (a cache hit makes none). */
  let storeReads = 0;

  beforeAll(async () => {
    // A file on SQLite, so that a second connection can write to the same data.
    storageOptions =
      storage.name === "sqlite" ? { storage: files.file("reqtrack.db") } : await storage.fresh();
    const options = { ...storageOptions, logger: silentLogger(), watchdogIntervalMs: 0 };
    tracker = await createTracker(options);
    other = await createTracker(options);
    const read = tracker.getRequestDetail.bind(tracker);
    tracker.getRequestDetail = (id) => {
      storeReads += 1;
      return read(id);
    };
    keys.admin = (await tracker.keys.create({ role: "admin" })).key;
    keys.viewerA = (await tracker.keys.create({ role: "viewer", tenantId: "A" })).key;
    keys.viewerB = (await tracker.keys.create({ role: "viewer", tenantId: "B" })).key;
    keys.writerA = (await tracker.keys.create({ role: "writer", tenantId: "A" })).key;
    app = await buildApp({ tracker, logger: false });
  });
  afterAll(async () => {
    await app.close();
    await other.close();
    await tracker.close();
    files.cleanup();
  });

  const get = async (id: string, key = keys.admin) => {
    const response = await app.inject({
      method: "GET",
      url: `/api/v1/requests/${id}`,
      headers: { authorization: `Bearer ${key}` },
    });
    return {
      status: response.statusCode,
      body: response.json(),
      type: response.headers["content-type"],
    };
  };

  it("answers a repeated read of an unchanged request from the cache on SQLite only", async () => {
    const { id } = await tracker.createRequest({ userId: "u", tenantId: "A" });
    const first = await get(id);
    const before = storeReads;
    const second = await get(id);
    expect(second).toEqual(first);
    expect(first.type).toBe("application/json; charset=utf-8");
    // PostgreSQL keeps no change stamp (other servers write unseen): every read is the store's.
    expect(storeReads - before).toBe(storage.name === "sqlite" ? 0 : 1);
  });

  it("shows every write made through the tracker after the cached read", async () => {
    const { id } = await tracker.createRequest({ userId: "u", tenantId: "A" });
    expect((await get(id)).body).toMatchObject({ status: "pending", stages: [], costs: [] });
    await tracker.startRequest(id, "w1");
    expect((await get(id)).body).toMatchObject({ status: "running", workerId: "w1" });
    await tracker.startStage(id, "render");
    expect((await get(id)).body.stages).toMatchObject([{ name: "render", status: "running" }]);
    await tracker.recordCost(id, { service: "openai", amountUsd: 0.5 });
    expect((await get(id)).body).toMatchObject({ costUsd: 0.5, costs: [{ service: "openai" }] });
    await tracker.completeStage(id, "render", { frames: 3 });
    expect((await get(id)).body.stages).toMatchObject([{ name: "render", status: "completed" }]);
    await tracker.completeRequest(id, { url: "https://example.com/v.mp4" });
    expect((await get(id)).body).toMatchObject({
      status: "completed",
      result: { url: "https://example.com/v.mp4" },
    });
    const replay = await tracker.replay(id);
    expect((await get(id)).body.replays).toMatchObject([{ id: replay.id, status: "pending" }]);
  });

  it("shows a write made over HTTP after the cached read", async () => {
    const { id } = await tracker.createRequest({ userId: "u", tenantId: "A" });
    expect((await get(id, keys.viewerA)).body.status).toBe("pending");
    const moved = await app.inject({
      method: "POST",
      url: `/api/v1/requests/${id}/transitions`,
      headers: { authorization: `Bearer ${keys.writerA}` },
      payload: { to: "running", workerId: "http" },
    });
    expect(moved.statusCode).toBe(200);
    expect((await get(id, keys.viewerA)).body).toMatchObject({
      status: "running",
      workerId: "http",
    });
  });

  it("shows a write made by another tracker (another connection or server) on the same data", async () => {
    const { id } = await tracker.createRequest({ userId: "u", tenantId: "A" });
    await get(id);
    expect((await get(id)).body.status).toBe("pending");
    await other.cancelRequest(id, "from elsewhere");
    expect((await get(id)).body).toMatchObject({ status: "cancelled" });
  });

  it("answers 404 to another tenant's key for a request the cache holds", async () => {
    const { id } = await tracker.createRequest({ userId: "u", tenantId: "A" });
    expect((await get(id)).status).toBe(200);
    expect((await get(id, keys.viewerA)).status).toBe(200);
    const foreign = await get(id, keys.viewerB);
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe("RT_ERR_NOT_FOUND");
    expect(JSON.stringify(foreign.body)).not.toContain('"tenantId"');
  });

  it("follows a tenant change: the old tenant gets 404, the new one the request", async () => {
    const { id } = await tracker.createRequest({ userId: "u", tenantId: "A" });
    expect((await get(id, keys.viewerA)).status).toBe(200);
    await tracker.setContext(id, { tenantId: "B" });
    expect((await get(id, keys.viewerA)).status).toBe(404);
    expect((await get(id, keys.viewerB)).body.tenantId).toBe("B");
  });

  it("answers 404 once the cached request is soft-deleted, over HTTP or through the tracker", async () => {
    const a = await tracker.createRequest({ userId: "u", tenantId: "A" });
    expect((await get(a.id)).status).toBe(200);
    const deleted = await app.inject({
      method: "DELETE",
      url: `/api/v1/requests/${a.id}`,
      headers: { authorization: `Bearer ${keys.writerA}` },
    });
    expect(deleted.statusCode).toBe(204);
    expect((await get(a.id)).status).toBe(404);

    const b = await tracker.createRequest({ userId: "u", tenantId: "A" });
    expect((await get(b.id)).status).toBe(200);
    await tracker.deleteRequest(b.id);
    expect((await get(b.id)).status).toBe(404);
  });
});

describe("DetailCache", () => {
  const detail = (json: string) => ({ tenantId: null, json });

  it("serves an entry only under the stamp it was read with, and never without a stamp", () => {
    const cache = new DetailCache();
    cache.set("a", "1:1", detail("{}"));
    expect(cache.get("a", "1:1")?.json).toBe("{}");
    expect(cache.get("a", "2:1")).toBeUndefined();
    // The stale entry is gone for good, even under its old stamp.
    expect(cache.get("a", "1:1")).toBeUndefined();
    cache.set("b", null, detail("{}"));
    expect(cache.size).toBe(0);
  });

  it("drops the least recently used past maxEntries", () => {
    const cache = new DetailCache({ maxEntries: 2 });
    cache.set("a", "s", detail("a"));
    cache.set("b", "s", detail("b"));
    cache.get("a", "s");
    cache.set("c", "s", detail("c"));
    expect(cache.get("b", "s")).toBeUndefined();
    expect(cache.get("a", "s")?.json).toBe("a");
    expect(cache.get("c", "s")?.json).toBe("c");
  });

  it("keeps its characters under maxChars and never keeps one body over a 32nd of it", () => {
    const cache = new DetailCache({ maxChars: 320 });
    for (let n = 0; n < 40; n++) cache.set(`r${n}`, "s", detail("x".repeat(10)));
    expect(cache.size).toBe(32);
    expect(cache.get("r39", "s")).toBeDefined();
    expect(cache.get("r0", "s")).toBeUndefined();
    cache.set("big", "s", detail("x".repeat(11)));
    expect(cache.get("big", "s")).toBeUndefined();
  });

  it("keeps nothing with maxEntries 0", () => {
    const cache = new DetailCache({ maxEntries: 0 });
    cache.set("a", "s", detail("{}"));
    expect(cache.get("a", "s")).toBeUndefined();
  });
});
