import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

/**
 * Regression: a tenant key that knows (or guesses) the id of another tenant's request could
 * read it through the duplicate-id rule of POST /requests and write into it through ingest
 * ops chained after a `create` of that id. The other tenant's request must stay untouched
 * and unrevealed, on every store.
 */
describeEachStorage("tenant-confined writes through a known id", (storage) => {
  let tracker: Tracker;
  let app: FastifyInstance;
  const keys = { writerA: "", writerB: "", admin: "" };

  beforeAll(async () => {
    tracker = await createTracker({
      ...(await storage.fresh()),
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    keys.writerA = (await tracker.keys.create({ role: "writer", tenantId: "A" })).key;
    keys.writerB = (await tracker.keys.create({ role: "writer", tenantId: "B" })).key;
    keys.admin = (await tracker.keys.create({ role: "admin" })).key;
    app = await buildApp({ tracker, logger: false });
  });
  afterAll(async () => {
    await app.close();
    await tracker.close();
  });

  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const victim = async () => {
    const request = await tracker.createRequest({
      userId: "victim",
      tenantId: "B",
      input: { prompt: "secret plans" },
    });
    return request.id;
  };
  const untouched = async (id: string) => {
    const stored = await tracker.getRequest(id);
    expect(stored).toMatchObject({ status: "pending", tenantId: "B", costUsd: 0, counters: {} });
    expect(stored?.costs).toEqual([]);
    const events = await tracker.getEvents(id);
    expect(events.map((e) => e.type)).toEqual(["request_created"]);
  };

  it("POST /requests with another tenant's id answers a coded conflict that reveals nothing", async () => {
    const id = await victim();
    const response = await app.inject({
      method: "POST",
      url: "/api/v1/requests",
      headers: as(keys.writerA),
      payload: { id, userId: "attacker" },
    });
    expect(response.statusCode).toBe(409);
    const body = response.json();
    expect(body.code).toBe("RT_ERR_ID_CONFLICT");
    expect(response.body).not.toContain("secret plans");
    expect(response.body).not.toContain("victim");
    expect(response.body).not.toContain('"B"');
    await untouched(id);
  });

  it("the same tenant resending its own create still gets its stored request back", async () => {
    const first = await app.inject({
      method: "POST",
      url: "/api/v1/requests",
      headers: as(keys.writerB),
      payload: { id: "req_resent_by_b", userId: "u" },
    });
    const again = await app.inject({
      method: "POST",
      url: "/api/v1/requests",
      headers: as(keys.writerB),
      payload: { id: "req_resent_by_b", userId: "u" },
    });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toMatchObject({ id: "req_resent_by_b", tenantId: "B" });
  });

  it("ingest: a create of another tenant's id fails, and no op chained after it touches that request", async () => {
    const id = await victim();
    const response = await app.inject({
      method: "POST",
      url: "/api/v1/ingest",
      headers: as(keys.writerA),
      payload: {
        ops: [
          { opId: "c1", type: "create", request: { id, userId: "attacker" } },
          { opId: "e1", type: "event", requestId: id, event: { type: "pwned", message: "x" } },
          {
            opId: "k1",
            type: "cost",
            requestId: id,
            cost: { service: "openai", amountUsd: 1000 },
          },
          { opId: "i1", type: "increment", requestId: id, counter: "tool_calls", by: 5 },
          { opId: "t1", type: "transition", requestId: id, to: "cancelled", reason: "x" },
          { opId: "s1", type: "stage", requestId: id, stage: "render", action: "start" },
          { opId: "d1", type: "delete", requestId: id },
        ],
      },
    });
    expect(response.statusCode).toBe(200);
    const results = response.json().results as { ok: boolean; error?: { code: string } }[];
    expect(results[0]).toMatchObject({ ok: false, error: { code: "RT_ERR_ID_CONFLICT" } });
    for (const result of results.slice(1)) {
      expect(result).toMatchObject({ ok: false, error: { code: "RT_ERR_NOT_FOUND" } });
    }
    expect(response.body).not.toContain('"duplicate"');
    await untouched(id);
  });

  it("ingest: ops on another tenant's id answer exactly like ops on an id never seen", async () => {
    const id = await victim();
    const send = (requestId: string) =>
      app.inject({
        method: "POST",
        url: "/api/v1/ingest",
        headers: as(keys.writerA),
        payload: {
          ops: [{ opId: `e-${requestId}`, type: "event", requestId, event: { type: "x" } }],
        },
      });
    const foreign = (await send(id)).json().results[0];
    const unknown = (await send("req_never_seen")).json().results[0];
    expect(foreign.error.code).toBe(unknown.error.code);
    expect(foreign.error.message.replace(id, "ID")).toBe(
      unknown.error.message.replace("req_never_seen", "ID"),
    );
    await untouched(id);
  });

  it("the store refuses a confined op on another tenant's request on every write path", async () => {
    const id = await victim();
    for (const op of [
      { type: "transition", to: "cancelled" },
      { type: "event", event: { type: "x" } },
      { type: "cost", cost: { service: "s", amountUsd: 1 } },
      { type: "increment", counter: "c", by: 1 },
      { type: "context", context: { tenantId: "A" } },
      { type: "context", context: { userId: "attacker" } },
      { type: "delete" },
    ]) {
      const [result] = await tracker.ingest([{ opId: `o-${op.type}`, requestId: id, ...op }], {
        tenantId: "A",
      });
      expect(result).toMatchObject({ ok: false, error: { code: "RT_ERR_NOT_FOUND" } });
    }
    await untouched(id);
    // The owner's ops still apply.
    const [own] = await tracker.ingest(
      [{ opId: "own-1", type: "increment", requestId: id, counter: "c", by: 1 }],
      { tenantId: "B" },
    );
    expect(own).toMatchObject({ ok: true });
  });

  it("ingest context: a tenant key sets session and user on its own request, never another tenant", async () => {
    const own = await tracker.createRequest({ userId: "anonymous", tenantId: "A" });
    const send = (context: Record<string, unknown>, opId: string) =>
      app.inject({
        method: "POST",
        url: "/api/v1/ingest",
        headers: as(keys.writerA),
        payload: { ops: [{ opId, type: "context", requestId: own.id, context }] },
      });
    const moved = (await send({ tenantId: "B" }, "ctx-1")).json().results[0];
    expect(moved).toMatchObject({ ok: false, error: { code: "RT_ERR_FORBIDDEN" } });
    const cleared = (await send({ tenantId: null }, "ctx-2")).json().results[0];
    expect(cleared).toMatchObject({ ok: false, error: { code: "RT_ERR_FORBIDDEN" } });
    const bad = (await send({ sessionId: "" }, "ctx-3")).json().results[0];
    expect(bad).toMatchObject({
      ok: false,
      error: { code: "RT_ERR_VALIDATION", field: "sessionId" },
    });
    const fine = (await send({ tenantId: "A", sessionId: "s-1", userId: "u-1" }, "ctx-4")).json();
    expect(fine.results[0]).toMatchObject({ ok: true, requestId: own.id });
    expect(await tracker.getRequest(own.id)).toMatchObject({
      tenantId: "A",
      sessionId: "s-1",
      userId: "u-1",
    });
  });

  it("GET /queue/depth counts only the key's tenant; an admin sees all or asks for one", async () => {
    const fresh = await createTracker({
      ...(await storage.fresh()),
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    const viewerA = (await fresh.keys.create({ role: "viewer", tenantId: "A" })).key;
    const admin = (await fresh.keys.create({ role: "admin" })).key;
    const server = await buildApp({ tracker: fresh, logger: false });
    try {
      await fresh.createRequest({ userId: "u", tenantId: "A" });
      for (let i = 0; i < 3; i++)
        await fresh.createRequest({ userId: "u", tenantId: "B", priority: 0.9 });
      const depth = async (key: string, query = "") =>
        (
          await server.inject({
            method: "GET",
            url: `/api/v1/queue/depth${query}`,
            headers: as(key),
          })
        ).json();
      expect(await depth(viewerA)).toEqual({ high: 0, normal: 1, low: 0, total: 1 });
      expect(await depth(viewerA, "?tenantId=B")).toEqual({ high: 0, normal: 1, low: 0, total: 1 });
      expect(await depth(admin)).toEqual({ high: 3, normal: 1, low: 0, total: 4 });
      expect(await depth(admin, "?tenantId=B")).toEqual({ high: 3, normal: 0, low: 0, total: 3 });
    } finally {
      await server.close();
      await fresh.close();
    }
  });
});
