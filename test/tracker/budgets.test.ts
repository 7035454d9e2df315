import * as http from "node:http";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  BudgetExceededError,
  createTracker,
  type LiveEvent,
  NotFoundError,
  type Tracker,
  ValidationError,
} from "../../src/index.js";
import { createClient } from "../../src/client/index.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { buildApp } from "../support/app.js";
import { captureLogger, fakeClock, LEVEL, tempDir } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

const JAN_15_NOON = Date.UTC(2026, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

describeEachStorage("cost budgets", (storage) => {
  let tracker: Tracker;
  let time: ReturnType<typeof fakeClock>;
  let log: ReturnType<typeof captureLogger>;
  let alerts: LiveEvent[];

  beforeEach(async () => {
    time = fakeClock(JAN_15_NOON);
    log = captureLogger("warn");
    tracker = await createTracker({
      ...(await storage.fresh()),
      clock: time.clock,
      logger: log.logger,
      watchdogIntervalMs: 0,
      budgetIntervalMs: 0,
    });
    alerts = [];
    tracker.subscribe((event) => {
      if (event.type === "alert") alerts.push(event);
    });
  });
  afterEach(async () => {
    await tracker.close();
  });

  const spend = async (tenantId: string, amountUsd: number, service = "openai") => {
    const request = await tracker.createRequest({ userId: "u", tenantId });
    await tracker.recordCost(request, { service, amountUsd });
    await tracker.budgets.evaluate();
    return request;
  };
  const fired = () =>
    alerts.map((a) => (a.type === "alert" ? (a.data?.budget as { threshold: number }) : null));

  it("fires each threshold once per period, on subscribe() and the warn log", async () => {
    const budget = await tracker.budgets.create({ tenantId: "acme", period: "day", amountUsd: 10 });
    expect(budget.thresholds).toEqual([50, 80, 100]);
    await spend("acme", 4);
    expect(alerts).toEqual([]);
    await spend("acme", 2); // 60 %
    await spend("other", 50); // another tenant's spend does not count
    await spend("acme", 3); // 90 %
    await spend("acme", 1.5); // 105 %
    await tracker.budgets.evaluate();
    await spend("acme", 1);
    expect(fired().map((a) => a?.threshold)).toEqual([50, 80, 100]);
    expect(alerts[0]).toMatchObject({ name: "budget_threshold", tenantId: "acme" });
    expect(fired()[2]).toMatchObject({ budgetId: budget.id, limitUsd: 10, spentUsd: 10.5 });
    const warned = log.lines.filter(
      (l) => l.level === LEVEL.warn && l.alert === "budget_threshold",
    );
    expect(warned).toHaveLength(3);

    // The next UTC day is a new period: spend starts from zero and thresholds fire again.
    time.set(Date.UTC(2026, 0, 16, 1, 0, 0));
    await tracker.budgets.evaluate();
    expect(alerts).toHaveLength(3);
    await spend("acme", 6);
    expect(fired().map((a) => a?.threshold)).toEqual([50, 80, 100, 50]);
  });

  it("evaluates the budgets a cost falls in unasked, and keeps evaluating after a cost outside every budget", async () => {
    await tracker.budgets.create({ tenantId: "acme", period: "day", amountUsd: 10 });
    const outside = await tracker.createRequest({ userId: "u", tenantId: "other" });
    await tracker.recordCost(outside, { service: "openai", amountUsd: 5 });
    // The evaluation a cost prompts runs 100 ms after it; this one finds nothing to read.
    await new Promise((resolve) => setTimeout(resolve, 250));
    await spend("acme", 6);
    expect(fired().map((a) => a?.threshold)).toEqual([50]);

    const inside = await tracker.createRequest({ userId: "u", tenantId: "acme" });
    await tracker.recordCost(inside, { service: "openai", amountUsd: 3 });
    await tracker.flush();
    await vi.waitFor(() => expect(fired().map((a) => a?.threshold)).toEqual([50, 80]), {
      timeout: 5000,
    });
  });

  it("an enforced budget refuses new requests in its scope until the period ends, and never cuts off running ones", async () => {
    await tracker.budgets.create({
      tenantId: "acme",
      kind: "video_generation",
      period: "day",
      amountUsd: 5,
      mode: "enforce",
    });
    const running = await tracker.createRequest({
      userId: "u",
      tenantId: "acme",
      kind: "video_generation",
    });
    await tracker.startRequest(running, "w");
    await tracker.recordCost(running, { service: "veo", amountUsd: 6 });
    await tracker.budgets.evaluate();

    const refused = await tracker
      .createRequest({ userId: "u", tenantId: "acme", kind: "video_generation" })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BudgetExceededError);
    const details = (refused as BudgetExceededError).budget;
    expect(details).toMatchObject({
      limitUsd: 5,
      spentUsd: 6,
      periodEnd: "2026-01-16T00:00:00.000Z",
    });
    expect(details.retryAfterSeconds).toBe(12 * 3600);
    // Outside the scope: another kind, another tenant.
    await tracker.createRequest({ userId: "u", tenantId: "acme", kind: "chat" });
    await tracker.createRequest({ userId: "u", tenantId: "beta", kind: "video_generation" });
    // The running request goes on spending and finishes.
    await tracker.recordCost(running, { service: "veo", amountUsd: 1 });
    await tracker.completeRequest(running, { url: "x" });
    expect((await tracker.getRequest(running))?.status).toBe("completed");
    // Nothing of the refused create was written.
    const listed = await tracker.listRequests({ tenantId: "acme", kind: "video_generation" });
    expect(listed.total).toBe(1);

    // Through ingest (the remote client's path) the create is refused the same way.
    const [viaIngest] = await tracker.ingest(
      [{ opId: "c1", type: "create", request: { userId: "u", kind: "video_generation" } }],
      { tenantId: "acme" },
    );
    expect(viaIngest).toMatchObject({ ok: false, error: { code: "RT_ERR_BUDGET_EXCEEDED" } });

    time.set(Date.UTC(2026, 0, 16, 0, 0, 1));
    await tracker.budgets.evaluate();
    await expect(
      tracker.createRequest({ userId: "u", tenantId: "acme", kind: "video_generation" }),
    ).resolves.toMatchObject({ status: "pending" });
  });

  it("counts the costs of soft-deleted requests, as the cost report does", async () => {
    const budget = await tracker.budgets.create({ tenantId: "acme", period: "day", amountUsd: 10 });
    await spend("acme", 2);
    const deleted = await spend("acme", 3);
    await tracker.deleteRequest(deleted);
    expect(await tracker.getRequest(deleted)).toBeNull();
    await tracker.budgets.evaluate();
    expect((await tracker.budgets.status(budget.id)).spentUsd).toBe(5);
    expect((await tracker.costs.report({})).totalCostUsd).toBe(5);
  });

  it("a user's and a session's budget count only their requests; an all-tenant one counts every tenant and enforces on each", async () => {
    const user = await tracker.budgets.create({
      tenantId: "acme",
      userId: "ann",
      period: "day",
      amountUsd: 10,
    });
    const session = await tracker.budgets.create({
      tenantId: "acme",
      sessionId: "s1",
      period: "day",
      amountUsd: 10,
    });
    const everyone = await tracker.budgets.create({
      tenantId: null,
      period: "day",
      amountUsd: 4,
      mode: "enforce",
    });
    const cost = async (
      input: { userId: string; tenantId: string; sessionId?: string },
      usd: number,
    ) => {
      const r = await tracker.createRequest(input);
      await tracker.recordCost(r, { service: "openai", amountUsd: usd });
    };
    await cost({ userId: "ann", tenantId: "acme" }, 1);
    await cost({ userId: "bob", tenantId: "acme", sessionId: "s1" }, 1.5);
    await cost({ userId: "ann", tenantId: "beta" }, 0.25); // another tenant: not ann's acme budget
    await tracker.budgets.evaluate();
    expect((await tracker.budgets.status(user.id)).spentUsd).toBe(1);
    expect((await tracker.budgets.status(session.id)).spentUsd).toBe(1.5);
    expect((await tracker.budgets.status(everyone.id)).spentUsd).toBe(2.75);

    await cost({ userId: "cy", tenantId: "gamma" }, 1.5); // 4.25 of 4: spent
    await tracker.budgets.evaluate();
    for (const tenantId of ["acme", "beta", "delta"]) {
      const refused = await tracker
        .createRequest({ userId: "u", tenantId })
        .catch((e: unknown) => e);
      expect(refused, tenantId).toBeInstanceOf(BudgetExceededError);
    }
    expect(everyone.amountMicros).toBe(4_000_000);
  });

  it("costs this tracker records count against an enforced budget at once, before any evaluation", async () => {
    await tracker.budgets.create({
      tenantId: "acme",
      period: "day",
      amountUsd: 1,
      mode: "enforce",
    });
    const first = await tracker.createRequest({ userId: "u", tenantId: "acme" });
    await tracker.recordCost(first, { service: "s", amountUsd: 0.5 });
    await tracker.createRequest({ userId: "u", tenantId: "acme" });
    await tracker.recordCost(first, { service: "s", amountUsd: 0.5 });
    await expect(tracker.createRequest({ userId: "u", tenantId: "acme" })).rejects.toBeInstanceOf(
      BudgetExceededError,
    );
  });

  it("reports spent, remaining and the spend projected at the period's end", async () => {
    time.set(Date.UTC(2026, 0, 15, 12, 0, 0)); // half of the day gone
    const budget = await tracker.budgets.create({
      tenantId: "acme",
      service: "openai",
      period: "day",
      amountUsd: 20,
    });
    await spend("acme", 4, "openai");
    await spend("acme", 100, "pinecone"); // another service
    const status = await tracker.budgets.status(budget.id);
    expect(status).toMatchObject({
      spentUsd: 4,
      remainingUsd: 16,
      limitUsd: 20,
      percent: 20,
      projectedUsd: 8,
      exceeded: false,
      periodStart: new Date(Date.UTC(2026, 0, 15)),
      periodEnd: new Date(Date.UTC(2026, 0, 16)),
    });
  });

  it("a rolling budget counts the last 24 hours and alerts again after spend falls back under a threshold", async () => {
    await tracker.budgets.create({
      tenantId: "acme",
      period: "day",
      rolling: true,
      amountUsd: 10,
      thresholds: [100],
    });
    await spend("acme", 10);
    expect(fired()).toHaveLength(1);
    time.advance(25 * HOUR); // that spend left the window
    await tracker.budgets.evaluate();
    await spend("acme", 10);
    expect(fired()).toHaveLength(2);
  });

  it("refuses bad budgets with a coded error naming the field, and writes nothing", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ period: "day", amountUsd: -1 }, "amountUsd"],
      [{ period: "day", amountUsd: Number.NaN }, "amountUsd"],
      [{ period: "fortnight", amountUsd: 1 }, "period"],
      [{ period: "day", amountUsd: 1, thresholds: [0] }, "thresholds"],
      [{ period: "day", amountUsd: 1, thresholds: [1001] }, "thresholds"],
      [{ period: "day", amountUsd: 1, mode: "block" }, "mode"],
      [{ period: "day", amountUsd: 1, webhookUrl: "ftp://x" }, "webhookUrl"],
      [{ period: "day", amountUsd: 1, limit: 5 }, "limit"],
    ];
    for (const [input, field] of cases) {
      const error = await tracker.budgets
        .create(input as never)
        .catch((e: unknown) => e as ValidationError);
      expect(error, JSON.stringify(input)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).message).toContain(field);
    }
    expect(await tracker.budgets.list()).toEqual([]);
  });

  it("an unknown budget id is a coded not-found error that names the budget", async () => {
    for (const call of [
      () => tracker.budgets.status("bud_missing"),
      () => tracker.budgets.update("bud_missing", { amountUsd: 5 }),
    ]) {
      const error = await call().catch((e: unknown) => e as NotFoundError);
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).code).toBe("RT_ERR_NOT_FOUND");
      expect((error as NotFoundError).message).toBe("Budget bud_missing not found");
      expect((error as NotFoundError).field).toBe("id");
    }
    expect(await tracker.budgets.delete("bud_missing")).toBe(false);
  });
});

describeEachStorage("cost budgets across servers", (storage) => {
  it("two trackers on one store send each threshold's alert once between them", async () => {
    const dir = tempDir();
    const where =
      storage.name === "sqlite" ? { storage: dir.file("shared.db") } : await storage.fresh();
    const time = fakeClock(JAN_15_NOON);
    const open = () =>
      createTracker({
        ...where,
        clock: time.clock,
        logger: captureLogger("error").logger,
        watchdogIntervalMs: 0,
        budgetIntervalMs: 0,
      });
    const a = await open();
    const b = await open();
    try {
      const seen: string[] = [];
      for (const [name, t] of [
        ["a", a],
        ["b", b],
      ] as const) {
        t.subscribe((e) => {
          if (e.type === "alert") seen.push(name);
        });
      }
      await a.budgets.create({
        tenantId: "acme",
        period: "month",
        amountUsd: 1,
        thresholds: [100],
      });
      const request = await a.createRequest({ userId: "u", tenantId: "acme" });
      await a.recordCost(request, { service: "s", amountUsd: 2 });
      await Promise.all([a.budgets.evaluate(), b.budgets.evaluate()]);
      await Promise.all([a.budgets.evaluate(), b.budgets.evaluate()]);
      expect(seen).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
      dir.cleanup();
    }
  });
});

describeEachStorage("cost budgets over HTTP", (storage) => {
  it("tenant keys manage only their own budgets; a spent enforced budget answers 429 with Retry-After", async () => {
    const time = fakeClock(JAN_15_NOON);
    const tracker = await createTracker({
      ...(await storage.fresh()),
      clock: time.clock,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
      budgetIntervalMs: 0,
    });
    const writerA = (await tracker.keys.create({ role: "writer", tenantId: "A" })).key;
    const writerB = (await tracker.keys.create({ role: "writer", tenantId: "B" })).key;
    const admin = (await tracker.keys.create({ role: "admin" })).key;
    const app = await buildApp({ tracker, logger: false });
    const call = (
      key: string,
      method: "GET" | "POST" | "PATCH" | "DELETE",
      url: string,
      payload?: object,
    ) =>
      app.inject({
        method,
        url: `/api/v1${url}`,
        headers: { authorization: `Bearer ${key}` },
        ...(payload ? { payload } : {}),
      });
    try {
      const created = await call(writerA, "POST", "/budgets", {
        period: "day",
        amountUsd: 1,
        mode: "enforce",
      });
      expect(created.statusCode).toBe(201);
      const id = created.json().id as string;
      expect(created.json().scope.tenantId).toBe("A");

      expect(
        (await call(writerA, "POST", "/budgets", { tenantId: null, period: "day", amountUsd: 1 }))
          .statusCode,
      ).toBe(403);
      expect(
        (await call(writerA, "POST", "/budgets", { tenantId: "B", period: "day", amountUsd: 1 }))
          .statusCode,
      ).toBe(403);
      expect(
        (await call(admin, "POST", "/budgets", { period: "month", amountUsd: 100 })).statusCode,
      ).toBe(201);

      // B sees neither A's budget nor the all-tenant one; A sees only its own.
      expect((await call(writerB, "GET", "/budgets")).json().items).toEqual([]);
      expect(
        (await call(writerA, "GET", "/budgets")).json().items.map((b: { id: string }) => b.id),
      ).toEqual([id]);
      expect((await call(admin, "GET", "/budgets")).json().items).toHaveLength(2);
      for (const [method, url] of [
        ["GET", `/budgets/${id}`],
        ["GET", `/budgets/${id}/status`],
        ["PATCH", `/budgets/${id}`],
        ["DELETE", `/budgets/${id}`],
      ] as const) {
        const response = await call(
          writerB,
          method,
          url,
          method === "PATCH" ? { amountUsd: 5 } : undefined,
        );
        expect(response.statusCode, `${method} ${url}`).toBe(404);
      }
      expect(
        (await call(writerA, "PATCH", `/budgets/${id}`, { amountUsd: -3 })).json(),
      ).toMatchObject({
        code: "RT_ERR_VALIDATION",
        field: "amountUsd",
      });

      const first = await call(writerA, "POST", "/requests", { userId: "u" });
      await call(writerA, "POST", `/requests/${first.json().id}/costs`, {
        service: "s",
        amountUsd: 2,
      });
      await tracker.budgets.evaluate();
      const refused = await call(writerA, "POST", "/requests", { userId: "u" });
      expect(refused.statusCode).toBe(429);
      expect(refused.headers["retry-after"]).toBe(String(12 * 3600));
      expect(refused.json()).toMatchObject({
        code: "RT_ERR_BUDGET_EXCEEDED",
        budget: { budgetId: id, limitUsd: 1, spentUsd: 2 },
      });
      expect((await call(writerB, "POST", "/requests", { userId: "u" })).statusCode).toBe(201);
      const status = (await call(writerA, "GET", `/budgets/${id}/status`)).json();
      expect(status).toMatchObject({ spentUsd: 2, exceeded: true, alerted: [50, 80, 100] });

      const metrics = (await app.inject({ method: "GET", url: "/metrics" })).body;
      expect(metrics).toContain(`reqtrack_budget_spend_usd{budget="${id}"`);
      expect(metrics).toMatch(new RegExp(`reqtrack_budget_limit_usd\\{budget="${id}"[^}]*\\} 1`));
      expect((await call(writerA, "DELETE", `/budgets/${id}`)).statusCode).toBe(204);
      expect((await call(writerA, "POST", "/requests", { userId: "u" })).statusCode).toBe(201);
    } finally {
      await app.close();
      await tracker.close();
    }
  });
});

describeEachStorage("budget webhooks", (storage) => {
  it("POSTs the alert as JSON and retries after an error answer, without holding up the write", async () => {
    const received: { status: number; body: Record<string, unknown> }[] = [];
    const server = http.createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", () => {
        const status = received.length === 0 ? 500 : 200;
        received.push({ status, body: JSON.parse(text) as Record<string, unknown> });
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const tracker = await createTracker({
      ...(await storage.fresh()),
      clock: fakeClock(JAN_15_NOON).clock,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
      budgetIntervalMs: 0,
    });
    try {
      await tracker.budgets.create({
        tenantId: "acme",
        period: "week",
        amountUsd: 1,
        thresholds: [100],
        webhookUrl: `http://127.0.0.1:${port}/hooks/budget`,
      });
      const request = await tracker.createRequest({ userId: "u", tenantId: "acme" });
      await tracker.recordCost(request, { service: "s", amountUsd: 1 });
      await tracker.budgets.evaluate();
      await tracker.budgets.settled();
      expect(received.map((r) => r.status)).toEqual([500, 200]);
      expect(received[1]?.body).toMatchObject({
        type: "budget_threshold",
        threshold: 100,
        tenantId: "acme",
        spentUsd: 1,
        periodStart: "2026-01-12T00:00:00.000Z",
      });
    } finally {
      await tracker.close();
      server.close();
    }
  });
});

describeEachStorage("budget webhooks", (storage) => {
  it("a webhook that does not answer holds up no write, no evaluation and no close", async () => {
    const held: http.ServerResponse[] = [];
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const server = http.createServer((request, response) => {
      request.resume();
      held.push(response);
      arrived();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const tracker = await createTracker({
      ...(await storage.fresh()),
      clock: fakeClock(JAN_15_NOON).clock,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
      budgetIntervalMs: 0,
    });
    try {
      await tracker.budgets.create({
        tenantId: "acme",
        period: "day",
        amountUsd: 1,
        thresholds: [50],
        webhookUrl: `http://127.0.0.1:${port}/hooks/budget`,
      });
      const first = await tracker.createRequest({ userId: "u", tenantId: "acme" });
      await tracker.recordCost(first, { service: "s", amountUsd: 0.6 });
      await tracker.budgets.evaluate();
      await arrival; // the alert is being delivered, and its answer never comes

      // Writes, reads, status and a new evaluation all finish while it waits.
      const next = await tracker.createRequest({ userId: "u", tenantId: "acme" });
      await tracker.recordCost(next, { service: "s", amountUsd: 0.1 });
      await tracker.startRequest(next, "w");
      await tracker.completeRequest(next, { ok: true });
      await tracker.flush();
      await tracker.budgets.evaluate();
      expect((await tracker.getRequest(next))?.status).toBe("completed");
      expect((await tracker.budgets.list())[0]).toBeDefined();
      expect(held).toHaveLength(1);
      expect(held[0]?.writableEnded).toBe(false);
    } finally {
      await tracker.close();
      for (const response of held) response.writeHead(200).end();
      server.close();
    }
  });
});

describeEachStorage("cost budgets and the remote client", (storage) => {
  it("a create through the remote client in a spent enforced budget rejects with BudgetExceededError", async () => {
    const tracker = await createTracker({
      ...(await storage.fresh()),
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
      budgetIntervalMs: 0,
    });
    const key = (await tracker.keys.create({ role: "writer", tenantId: "acme" })).key;
    const app = await buildApp({ tracker, logger: false });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const client = createClient({ url, apiKey: key, logger: captureLogger("error").logger });
    try {
      await tracker.budgets.create({
        tenantId: "acme",
        period: "day",
        amountUsd: 1,
        mode: "enforce",
      });
      const first = await client.createRequest({ userId: "u" });
      await client.recordCost(first, { service: "s", amountUsd: 3 });
      await client.flush();
      await tracker.budgets.evaluate();
      const refused = await client.createRequest({ userId: "u" }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(BudgetExceededError);
      expect((refused as BudgetExceededError).budget).toMatchObject({ limitUsd: 1, spentUsd: 3 });
      expect((await tracker.listRequests({ tenantId: "acme" })).total).toBe(1);
    } finally {
      await client.close();
      await app.close();
      await tracker.close();
    }
  });
});

describeEachStorage("budgets through the remote client", (storage) => {
  it("creates, lists, reads, updates, reports and deletes budgets, confined to the key's tenant", async () => {
    // A fixed clock: the projection moves with time, and the two status reads must agree.
    const tracker = await createTracker({
      ...(await storage.fresh()),
      clock: fakeClock(JAN_15_NOON).clock,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
      budgetIntervalMs: 0,
    });
    const acme = (await tracker.keys.create({ role: "writer", tenantId: "acme" })).key;
    const admin = (await tracker.keys.create({ role: "admin" })).key;
    const app = await buildApp({ tracker, logger: false });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const logger = captureLogger("error").logger;
    const client = createClient({ url, apiKey: acme, logger });
    const root = createClient({ url, apiKey: admin, logger });
    try {
      const other = await tracker.budgets.create({ tenantId: "zeta", period: "day", amountUsd: 9 });
      // A tenant key's budget is its tenant's, whatever it asks.
      const made = await client.budgets.create({ name: "acme daily", period: "day", amountUsd: 2 });
      expect(made).toMatchObject({
        name: "acme daily",
        scope: { tenantId: "acme" },
        mode: "alert",
      });
      expect(await tracker.budgets.get(made.id)).toEqual(made);
      expect((await client.budgets.list()).map((b) => b.id)).toEqual([made.id]);
      expect(await client.budgets.get(made.id)).toEqual(made);
      expect(await client.budgets.get(other.id)).toBeNull();

      const changed = await client.budgets.update(made.id, { amountUsd: 4, mode: "enforce" });
      expect(changed).toMatchObject({ amountMicros: 4_000_000, mode: "enforce" });
      const request = await tracker.createRequest({ userId: "u", tenantId: "acme" });
      await tracker.recordCost(request, { service: "s", amountUsd: 1 });
      await tracker.flush();
      const status = await client.budgets.status(made.id);
      expect(status).toMatchObject({ limitUsd: 4, spentUsd: 1, remainingUsd: 3, exceeded: false });
      expect(status.periodStart).toBeInstanceOf(Date);
      expect(status).toEqual({ ...(await tracker.budgets.status(made.id)), budget: changed });

      // Checked before any call, as the library checks: the field is named.
      const invalid = await client.budgets
        .create({ period: "fortnight", amountUsd: 1 } as never)
        .catch((e: unknown) => e);
      expect(invalid).toBeInstanceOf(ValidationError);
      expect((invalid as ValidationError).message).toContain("period");
      // Another tenant's budget is a 404, never a 403 that confirms it.
      const foreign = await client.budgets.status(other.id).catch((e: unknown) => e);
      expect((foreign as NotFoundError).code).toBe("RT_ERR_NOT_FOUND");
      expect(await client.budgets.delete(other.id)).toBe(false);
      // Only an admin key sets an all-tenant budget.
      const everyone = await client.budgets
        .create({ tenantId: null, period: "month", amountUsd: 5 })
        .catch((e: unknown) => e);
      expect((everyone as { code?: string }).code).toBe("RT_ERR_FORBIDDEN");
      const global = await root.budgets.create({ tenantId: null, period: "month", amountUsd: 5 });
      expect(global.scope.tenantId).toBeNull();

      expect(await client.budgets.delete(made.id)).toBe(true);
      expect(await tracker.budgets.get(made.id)).toBeNull();
      expect(await client.budgets.list()).toEqual([]);
    } finally {
      await client.close();
      await root.close();
      await app.close();
      await tracker.close();
    }
  });
});

describe("budget alerts and a cost committed while spend is read", () => {
  it("fire on the store's figure: a cost counted twice for the create-time check fires no alert", async () => {
    const dir = tempDir();
    const store = new SqliteStore(dir.file("race.db"));
    const tracker = await createTracker({
      storage: store,
      clock: fakeClock(JAN_15_NOON).clock,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
      budgetIntervalMs: 0,
    });
    const alerts: number[] = [];
    tracker.subscribe((event) => {
      if (event.type === "alert") {
        alerts.push((event.data?.budget as { threshold: number }).threshold);
      }
    });
    try {
      const budget = await tracker.budgets.create({
        tenantId: "acme",
        period: "day",
        amountUsd: 10,
      });
      const request = await tracker.createRequest({ userId: "u", tenantId: "acme" });
      await tracker.recordCost(request, { service: "s", amountUsd: 9 });
      await tracker.budgets.evaluate();
      expect(alerts).toEqual([50, 80]);

      // The next read of spend starts only after a 0.5 USD cost has committed (and this
      // tracker has counted it locally): the read sees it, and so does the local count.
      const read = store.budgets.budgetSpend.bind(store.budgets);
      let raced = false;
      store.budgets.budgetSpend = async (...args) => {
        if (!raced) {
          raced = true;
          await tracker.recordCost(request, { service: "s", amountUsd: 0.5 });
        }
        return read(...args);
      };
      await tracker.budgets.evaluate();
      expect(raced).toBe(true);
      // 9.5 of 10 spent: the 100 % threshold was not crossed, so it did not alert.
      expect(alerts).toEqual([50, 80]);
      expect((await tracker.budgets.status(budget.id)).spentUsd).toBe(9.5);
      await tracker.recordCost(request, { service: "s", amountUsd: 0.5 });
      await tracker.budgets.evaluate();
      expect(alerts).toEqual([50, 80, 100]);
    } finally {
      await tracker.close();
      dir.cleanup();
    }
  });
});
