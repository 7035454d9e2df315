import Database from "better-sqlite3";
import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../../src/core/json.js";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger, tempDir } from "../support/helpers.js";

/** Regressions found by probing the server: each input used to answer 500 or never at all. */
describe("hostile input is a coded 400, never a 500 or a runaway", () => {
  let tracker: Tracker;
  let app: FastifyInstance;

  beforeAll(async () => {
    tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    app = await buildApp({ tracker, logger: false });
  });
  afterAll(async () => {
    await app.close();
    await tracker.close();
  });

  const get = (url: string) => app.inject({ method: "GET", url });
  const expect400 = (response: { statusCode: number; json: () => unknown }, field: string) => {
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: "RT_ERR_VALIDATION" });
    expect(JSON.stringify(response.json())).toContain(field);
  };

  it.each([
    ["/api/v1/stats/groups/tenantId/t1?from=0&to=8640000000000000", "to"],
    ["/api/v1/stats/groups/tenantId/t1?from=0&to=253402300799999", "from"],
    ["/api/v1/stats/groups/tenantId/t1?to=99999999999999999", "to"],
    ["/api/v1/costs/report?from=0&to=253402300799999", "from"],
    ["/api/v1/costs/report?from=8640000000000001", "from"],
    ["/api/v1/stats/groups/tenantId/t1?from=0001-01-01T00:00:00Z", "from"],
    ["/api/v1/requests?from=8640000000000001", "from"],
    // The period would end on 10000-01-01, which no ISO date-time of the answer can say.
    ["/api/v1/costs/report?from=253402214400000&to=253402300799999", "to"],
    ["/api/v1/costs/report?from=9999-12-01T00:00:00Z&to=9999-12-31T00:00:01Z", "to"],
    ["/api/v1/stats/groups/tenantId/t1?from=253402214400000&to=253402300799999", "to"],
  ])("GET %s refuses the range, naming %s", async (url, field) => {
    expect400(await get(url), field);
  });

  it("a URL that does not decode (invalid UTF-8 in a percent escape) is a coded 400 naming the url", async () => {
    expect400(await get("/api/v1/requests/%ED%A0%80"), "url");
    expect400(await get("/api/v1/requests/%E0%A4%A"), "url");
  });

  it("says the limit when a report period is too long", async () => {
    const response = await get("/api/v1/costs/report?from=0&to=253402300799999");
    expect(response.json().message).toContain("3660 days");
  });

  it("answers a report whose period ends on the last day of year 9999", async () => {
    const response = await get(
      "/api/v1/costs/report?from=9999-12-01T00:00:00Z&to=9999-12-30T12:00:00Z",
    );
    expect(response.statusCode).toBe(200);
    expect(response.json().periodEnd).toBe("9999-12-31T00:00:00.000Z");
  });

  it("still answers a ten-year group report", async () => {
    const to = Date.UTC(2026, 0, 1);
    const from = to - 3650 * 86_400_000;
    const response = await get(`/api/v1/stats/groups/tenantId/t1?from=${from}&to=${to}`);
    expect(response.statusCode).toBe(200);
    expect(response.json().buckets.length).toBe(3650);
  });

  const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
  const post = (url: string, body: string) =>
    app.inject({ method: "POST", url, headers: { "content-type": "application/json" }, body });

  it("refuses JSON nested 5,000 levels deep in every JSON field, naming it", async () => {
    const deep = nested(5000);
    expect400(await post("/api/v1/requests", `{"userId":"u","input":${deep}}`), "input");
    expect400(await post("/api/v1/requests", `{"userId":"u","entities":${deep}}`), "entities");
    const { id } = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(id, "w");
    expect400(await post(`/api/v1/requests/${id}/events`, `{"type":"x","data":${deep}}`), "data");
    expect400(
      await post(`/api/v1/requests/${id}/costs`, `{"service":"s","amountUsd":1,"usage":${deep}}`),
      "usage",
    );
    await tracker.startStage(id, "render");
    expect400(
      await post(`/api/v1/requests/${id}/stages/render/complete`, `{"output":${deep}}`),
      "output",
    );
    expect400(
      await post(`/api/v1/requests/${id}/transitions`, `{"to":"completed","result":${deep}}`),
      "result",
    );
    const ingest = await post(
      "/api/v1/ingest",
      `{"ops":[{"opId":"o1","type":"create","request":{"userId":"u","input":${deep}}}]}`,
    );
    expect(ingest.statusCode).toBe(200);
    expect(ingest.json().results[0]).toMatchObject({
      ok: false,
      error: { code: "RT_ERR_VALIDATION", field: expect.stringContaining("input") },
    });
    expect((await tracker.getRequest(id))?.status).toBe("running");
  });

  it(`keeps JSON nested ${MAX_JSON_DEPTH} levels deep, and refuses one more`, async () => {
    const ok = await post("/api/v1/requests", `{"userId":"u","input":${nested(MAX_JSON_DEPTH)}}`);
    expect(ok.statusCode).toBe(201);
    expect400(
      await post("/api/v1/requests", `{"userId":"u","input":${nested(MAX_JSON_DEPTH + 1)}}`),
      "input",
    );
  });
});

/**
 * Regression: SQLite's busy timeout slept on the event loop, so while another connection held
 * the write lock every caller of the process (health checks, the app around the tracker)
 * waited with the tracker. Ordering, not timing, shows it: a health check sent after a write
 * that waits for the lock must be answered before that write is.
 */
describe("a locked SQLite store does not freeze the event loop", () => {
  const dir = tempDir();
  afterEach(() => dir.cleanup());

  it("answers /healthz while a write waits for the lock, reports degraded, then writes it once", async () => {
    const path = dir.file("locked.db");
    const tracker = await createTracker({
      storage: path,
      busyTimeoutMs: 1500,
      replayIntervalMs: 3_600_000,
      watchdogIntervalMs: 0,
      logger: captureLogger("error").logger,
    });
    const app = await buildApp({ tracker, logger: false });
    const blocker = new Database(path);
    try {
      blocker.exec("BEGIN EXCLUSIVE");
      const order: string[] = [];
      const write = tracker
        .createRequest({ userId: "u", initialMessage: "during the lock" })
        .then((request) => {
          order.push("write");
          return request;
        });
      // Let the write's batch start (and meet the lock) before the health check is sent.
      await new Promise((resolve) => setImmediate(resolve));
      const health = app.inject({ method: "GET", url: "/healthz" }).then((response) => {
        order.push("healthz");
        return response;
      });
      const [request, healthz] = await Promise.all([write, health]);
      expect(healthz.statusCode).toBe(200);
      expect(order).toEqual(["healthz", "write"]);
      expect(request.id).toMatch(/^req_/);

      const ready = await app.inject({ method: "GET", url: "/readyz" });
      expect(ready.json()).toMatchObject({ degraded: true });

      blocker.exec("COMMIT");
      expect(await tracker.replayOutbox()).toBe(true);
      const stored = await tracker.listRequests({ userId: "u" });
      expect(stored.items.map((r) => r.id)).toEqual([request.id]);
      expect((await app.inject({ method: "GET", url: "/readyz" })).json()).toMatchObject({
        degraded: false,
      });
    } finally {
      if (blocker.inTransaction) blocker.exec("ROLLBACK");
      blocker.close();
      await app.close();
      await tracker.close();
    }
  });
});
