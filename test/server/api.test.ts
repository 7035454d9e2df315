import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger, fakeClock } from "../support/helpers.js";

describe("HTTP API", () => {
  let tracker: Tracker;
  let app: FastifyInstance;
  let time: ReturnType<typeof fakeClock>;

  beforeEach(async () => {
    time = fakeClock();
    tracker = await createTracker({
      storage: ":memory:",
      clock: time.clock,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    app = await buildApp({ tracker, logger: false, bodyLimit: 64 * 1024 });
  });
  afterEach(async () => {
    await app.close();
    await tracker.close();
  });

  const call = async (method: "GET" | "POST" | "DELETE", url: string, payload?: unknown) => {
    const response = await app.inject({
      method,
      url,
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    return {
      status: response.statusCode,
      body: response.body ? (response.json() as Record<string, unknown>) : null,
    };
  };

  it("runs a whole lifecycle through the endpoints", async () => {
    const created = await call("POST", "/api/v1/requests", {
      userId: "user-1",
      tenantId: "guild-42",
      kind: "video_generation",
      initialMessage: "A fjord at sunrise",
      priority: 0.8,
      tags: ["vip"],
      deadline: "2026-01-15T13:00:00Z",
    });
    expect(created.status).toBe(201);
    const id = created.body?.id as string;
    expect(created.body).toMatchObject({
      status: "pending",
      lane: "high",
      deadline: "2026-01-15T13:00:00.000Z",
    });

    expect(
      (await call("POST", `/api/v1/requests/${id}/transitions`, { to: "running", workerId: "w1" }))
        .body,
    ).toMatchObject({ status: "running", workerId: "w1" });
    time.advance(1500);
    expect((await call("POST", `/api/v1/requests/${id}/stages/render/start`)).status).toBe(204);
    time.advance(500);
    expect(
      (
        await call("POST", `/api/v1/requests/${id}/stages/render/complete`, {
          output: { frames: 240 },
        })
      ).status,
    ).toBe(204);
    expect((await call("POST", `/api/v1/requests/${id}/stages/upload/start`)).status).toBe(204);
    expect(
      (
        await call("POST", `/api/v1/requests/${id}/stages/upload/fail`, {
          message: "CDN 503",
          retryable: true,
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await call("POST", `/api/v1/requests/${id}/events`, {
          type: "api_call",
          message: "Calling Veo",
          severity: "info",
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await call("POST", `/api/v1/requests/${id}/costs`, {
          service: "veo",
          amountUsd: 0.35,
          usage: { seconds: 8 },
        })
      ).status,
    ).toBe(201);
    const failed = await call("POST", `/api/v1/requests/${id}/transitions`, {
      to: "failed",
      error: { message: "CDN 503" },
    });
    expect(failed.body).toMatchObject({
      status: "failed",
      errorStage: "upload",
      errorMessage: "CDN 503",
      durationMs: 2000,
    });
    expect(
      (await call("POST", `/api/v1/requests/${id}/transitions`, { to: "pending" })).body,
    ).toMatchObject({ status: "pending", attempts: 1 });

    const claim = await call("POST", "/api/v1/queue/claim", {
      workerId: "w2",
      kinds: ["video_generation"],
      leaseMs: 10_000,
    });
    expect(claim.body?.request).toMatchObject({ id, attempts: 2, errorStage: "upload" });
    expect((await call("POST", `/api/v1/queue/${id}/heartbeat`, { workerId: "w2" })).body).toEqual({
      alive: true,
    });
    expect((await call("POST", `/api/v1/queue/${id}/heartbeat`, { workerId: "w9" })).body).toEqual({
      alive: false,
    });
    expect(
      (
        await call("POST", `/api/v1/requests/${id}/transitions`, {
          to: "completed",
          result: { url: "https://cdn/v.mp4" },
        })
      ).body,
    ).toMatchObject({ status: "completed" });

    const detail = await call("GET", `/api/v1/requests/${id}`);
    expect(detail.body).toMatchObject({ costUsd: 0.35, result: { url: "https://cdn/v.mp4" } });
    expect((detail.body?.stages as unknown[]).length).toBe(2);
    const events = await call("GET", `/api/v1/requests/${id}/events`);
    expect((events.body?.items as { type: string }[]).map((e) => e.type)).toContain("api_call");

    const list = await call(
      "GET",
      "/api/v1/requests?status=completed,failed&tenantId=guild-42&tag=vip&limit=10",
    );
    expect(list.body).toMatchObject({ total: 1, nextCursor: null });
    expect((await call("GET", "/api/v1/queue/depth")).body).toEqual({
      high: 0,
      normal: 0,
      low: 0,
      total: 0,
    });
    expect((await call("DELETE", `/api/v1/requests/${id}`)).status).toBe(204);
    expect((await call("GET", `/api/v1/requests/${id}`)).status).toBe(404);
    expect((await call("GET", "/api/v1/requests?includeDeleted=true")).body).toMatchObject({
      total: 1,
    });
  });

  it("pages with offset and with cursors, and filters by time", async () => {
    for (let i = 0; i < 7; i++) {
      await call("POST", "/api/v1/requests", { userId: "pager" });
      time.advance(1000);
    }
    const first = await call("GET", "/api/v1/requests?userId=pager&limit=3");
    expect(first.body).toMatchObject({ total: 7 });
    const second = await call(
      "GET",
      `/api/v1/requests?userId=pager&limit=3&cursor=${first.body?.nextCursor as string}`,
    );
    const byOffset = await call("GET", "/api/v1/requests?userId=pager&limit=3&offset=3");
    expect(second.body?.items).toEqual(byOffset.body?.items);
    const from = new Date(time.now() - 3000).toISOString();
    expect((await call("GET", `/api/v1/requests?userId=pager&from=${from}`)).body).toMatchObject({
      total: 3,
    });
    expect(
      (await call("GET", `/api/v1/requests?userId=pager&to=${time.now() - 3000}`)).body,
    ).toMatchObject({ total: 4 });
  });

  it("searches by prompt text and filters by source, confined to the key's tenant", async () => {
    await call("POST", "/api/v1/requests", {
      userId: "u",
      tenantId: "alpha",
      source: "discord",
      initialMessage: "A Volcano at dawn",
    });
    await call("POST", "/api/v1/requests", {
      userId: "u",
      tenantId: "alpha",
      source: "web",
      input: { prompt: "volcano timelapse" },
    });
    await call("POST", "/api/v1/requests", {
      userId: "u",
      tenantId: "beta",
      initialMessage: "volcano, beta's",
    });
    const ids = async (query: string, headers: Record<string, string> = {}) => {
      const response = await app.inject({ url: `/api/v1/requests?${query}`, headers });
      expect(response.statusCode, query).toBe(200);
      const page = response.json() as { total: number; items: { tenantId: string }[] };
      return { total: page.total, tenants: page.items.map((r) => r.tenantId) };
    };
    expect(await ids("prompt=VOLCANO")).toEqual({ total: 3, tenants: ["beta", "alpha", "alpha"] });
    expect(await ids("prompt=volcano&source=web")).toEqual({ total: 1, tenants: ["alpha"] });
    expect(await ids("prompt=dawn&tenantId=alpha")).toEqual({ total: 1, tenants: ["alpha"] });
    for (const query of ["prompt=", `prompt=${"x".repeat(501)}`, "source="]) {
      const response = await call("GET", `/api/v1/requests?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body).toMatchObject({ code: "RT_ERR_VALIDATION" });
      expect(String(response.body?.message), query).toContain(query.split("=")[0]);
    }
    // Keys exist from here on: the server asks for one.
    const key = (await tracker.keys.create({ role: "viewer", tenantId: "beta" })).key;
    expect(await ids("prompt=volcano", { authorization: `Bearer ${key}` })).toEqual({
      total: 1,
      tenants: ["beta"],
    });
  });

  it("answers bad input with 4xx JSON naming the field, and never a 500", async () => {
    const id = (await call("POST", "/api/v1/requests", { userId: "u" })).body?.id as string;
    const bad: [string, "GET" | "POST" | "DELETE", string, unknown, number, string | undefined][] =
      [
        [
          "priority out of range",
          "POST",
          "/api/v1/requests",
          { userId: "u", priority: 2 },
          400,
          "priority",
        ],
        ["empty userId", "POST", "/api/v1/requests", { userId: "" }, 400, "userId"],
        [
          "unknown field",
          "POST",
          "/api/v1/requests",
          { userId: "u", colour: "red" },
          400,
          "colour",
        ],
        [
          "bad deadline",
          "POST",
          "/api/v1/requests",
          { userId: "u", deadline: "next tuesday" },
          400,
          "deadline",
        ],
        [
          "unknown status filter",
          "GET",
          "/api/v1/requests?status=exploded",
          undefined,
          400,
          "status.0",
        ],
        ["negative limit", "GET", "/api/v1/requests?limit=-1", undefined, 400, "limit"],
        ["garbage cursor", "GET", "/api/v1/requests?cursor=xyz", undefined, 400, "cursor"],
        [
          "unknown target status",
          "POST",
          `/api/v1/requests/${id}/transitions`,
          { to: "done" },
          400,
          "to",
        ],
        [
          "invalid transition",
          "POST",
          `/api/v1/requests/${id}/transitions`,
          { to: "completed" },
          409,
          undefined,
        ],
        ["unknown id", "GET", "/api/v1/requests/req_missing", undefined, 404, undefined],
        [
          "unknown id write",
          "POST",
          "/api/v1/requests/req_missing/events",
          { type: "x" },
          404,
          undefined,
        ],
        [
          "stage not running",
          "POST",
          `/api/v1/requests/${id}/stages/render/complete`,
          {},
          409,
          undefined,
        ],
        [
          "bad severity",
          "POST",
          `/api/v1/requests/${id}/events`,
          { type: "x", severity: "fatal" },
          400,
          "severity",
        ],
        [
          "negative cost",
          "POST",
          `/api/v1/requests/${id}/costs`,
          { service: "openai", amountUsd: -1 },
          400,
          "amountUsd",
        ],
        [
          "too many ops",
          "POST",
          "/api/v1/ingest",
          { ops: Array.from({ length: 1001 }, () => ({})) },
          400,
          "ops",
        ],
        ["unknown route", "GET", "/api/v1/nothing", undefined, 404, undefined],
      ];
    for (const [label, method, url, payload, status, field] of bad) {
      const response = await call(method, url, payload);
      expect(response.status, label).toBe(status);
      expect(response.body, label).toMatchObject({
        code: expect.stringMatching(/^RT_ERR_/),
        message: expect.any(String),
      });
      if (field) expect(response.body?.field, label).toBe(field);
    }
    const malformed = await app.inject({
      method: "POST",
      url: "/api/v1/requests",
      headers: { "content-type": "application/json" },
      payload: "{not json",
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ code: "RT_ERR_VALIDATION", field: "body" });
    const huge = await app.inject({
      method: "POST",
      url: "/api/v1/requests",
      payload: { userId: "u", input: { blob: "x".repeat(100_000) } },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ code: "RT_ERR_PAYLOAD_TOO_LARGE" });
    expect((await tracker.getRequest(id))?.status).toBe("pending");
    expect((await tracker.listRequests()).total).toBe(1);
  });

  it("ingests ops in order with per-op results, each op once", async () => {
    const ops = [
      {
        opId: "c1",
        type: "create",
        request: { userId: "remote", id: "req_remote_1", kind: "chat_message" },
      },
      { opId: "s1", type: "transition", requestId: "req_remote_1", to: "running", workerId: "w" },
      {
        opId: "e1",
        type: "event",
        requestId: "req_remote_1",
        event: { type: "tool_call", message: "search" },
      },
      {
        opId: "k1",
        type: "cost",
        requestId: "req_remote_1",
        cost: { service: "openai", amountUsd: 0.002 },
      },
      { opId: "i1", type: "increment", requestId: "req_remote_1", counter: "tool_calls", by: 2 },
      { opId: "x1", type: "transition", requestId: "req_remote_1", to: "completed", result: "ok" },
      {
        opId: "bad",
        type: "cost",
        requestId: "req_remote_1",
        cost: { service: "openai", amountUsd: -5 },
      },
    ];
    const first = await call("POST", "/api/v1/ingest", { ops });
    const results = first.body?.results as {
      ok: boolean;
      opId: string;
      error?: { field?: string };
    }[];
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, true, false]);
    expect(results[6]?.error?.field).toBe("amountUsd");
    const again = await call("POST", "/api/v1/ingest", { ops });
    expect(
      (again.body?.results as { duplicate?: boolean }[]).slice(0, 6).every((r) => r.duplicate),
    ).toBe(true);
    const got = await tracker.getRequest("req_remote_1");
    expect(got).toMatchObject({
      status: "completed",
      costUsd: 0.002,
      counters: { tool_calls: 2 },
      result: "ok",
    });
    expect(
      (await tracker.getEvents("req_remote_1")).filter((e) => e.type === "tool_call"),
    ).toHaveLength(1);
  });

  it("serves health, readiness, Prometheus metrics and the OpenAPI document", async () => {
    await call("POST", "/api/v1/requests", { userId: "u", kind: "chat_message", priority: 0.9 });
    expect((await call("GET", "/healthz")).body).toEqual({ status: "ok" });
    expect((await call("GET", "/readyz")).body).toMatchObject({ ready: true, degraded: false });
    const metrics = await app.inject({ url: "/metrics" });
    expect(metrics.headers["content-type"]).toContain("text/plain");
    expect(metrics.body).toContain(
      'reqtrack_requests_total{status="pending",kind="chat_message"} 1',
    );
    expect(metrics.body).toContain('reqtrack_queue_depth{lane="high"} 1');
    expect(metrics.body).toContain("reqtrack_http_request_duration_seconds_bucket");
    const doc = (await call("GET", "/docs/json")).body as {
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/requests",
        "/api/v1/requests/{id}/transitions",
        "/api/v1/ingest",
        "/api/v1/stream",
      ]),
    );
    const createSchema = JSON.stringify(doc.paths["/api/v1/requests"]?.post?.requestBody);
    expect(createSchema).toContain("priority");
    expect(createSchema).toContain("userId");
    expect((await app.inject({ url: "/docs" })).statusCode).toBeLessThan(400);
  });
});
