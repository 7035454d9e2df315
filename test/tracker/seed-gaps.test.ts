import { afterEach, describe, expect, it } from "vitest";
import Fastify from "fastify";
import {
  createTracker,
  currentRequest,
  propagationHeaders,
  type Tracker,
  ValidationError,
} from "../../src/index.js";
import { reqtrack } from "../../src/integrations/fastify.js";
import { captureLogger, fakeClock, silentLogger } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

// The library gaps found porting the five seed systems onto reqtrack (issue 16).

describeEachStorage("tracker.annotate", (storage) => {
  let tracker: Tracker;
  afterEach(() => tracker?.close());

  it("sets intent and entities, adds tags, merges metadata into input, and records it in history", async () => {
    tracker = await createTracker({
      ...(await storage.fresh()),
      watchdogIntervalMs: 0,
      logger: silentLogger(),
    });
    const req = await tracker.createRequest({
      userId: "user-1",
      channelId: "channel-1",
      initialMessage: "Book a room for Monday",
      tags: ["chat"],
      input: { text: "Book a room for Monday" },
    });
    await tracker.annotate(req, {
      intent: "book_room",
      entities: { day: "monday" },
      tags: ["booking", "chat"],
      metadata: { user_agent: "test" },
    });
    const stored = await tracker.getRequest(req.id);
    expect(stored).toMatchObject({
      intent: "book_room",
      entities: { day: "monday" },
      tags: ["chat", "booking"],
      input: { text: "Book a room for Monday", user_agent: "test" },
    });
    // The tag index knows the new tag too.
    expect((await tracker.listRequests({ tag: "booking" })).items.map((r) => r.id)).toEqual([
      req.id,
    ]);
    const events = await tracker.getEvents(req.id);
    expect(events.at(-1)).toMatchObject({
      type: "annotated",
      message: "Annotated: intent, entities, tags, metadata",
      data: { intent: "book_room", entities: { day: "monday" } },
    });
  });

  it("refuses bad input like creation does, naming the field, and writes nothing", async () => {
    tracker = await createTracker({
      ...(await storage.fresh()),
      watchdogIntervalMs: 0,
      logger: silentLogger(),
    });
    const req = await tracker.createRequest({ userId: "u", input: ["not", "an", "object"] });
    await expect(tracker.annotate(req, { intent: "" })).rejects.toMatchObject({
      code: "RT_ERR_VALIDATION",
      field: "intent",
    });
    await expect(tracker.annotate(req, { mood: "x" } as never)).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(tracker.annotate(req, {})).rejects.toBeInstanceOf(ValidationError);
    await expect(tracker.annotate(req, { metadata: { a: 1 } })).rejects.toMatchObject({
      field: "metadata",
    });
    await expect(tracker.annotate("req_missing", { intent: "x" })).rejects.toMatchObject({
      code: "RT_ERR_NOT_FOUND",
    });
    expect(await tracker.getRequest(req.id)).toMatchObject({ intent: null, tags: [] });
    expect((await tracker.getEvents(req.id)).map((e) => e.type)).toEqual(["request_created"]);
  });
});

describe("correlation ids", () => {
  let tracker: Tracker;
  afterEach(() => tracker?.close());

  it("createRequest returns the correlation id it stored, and scopes opened by id send it", async () => {
    tracker = await createTracker({
      storage: ":memory:",
      watchdogIntervalMs: 0,
      logger: silentLogger(),
    });
    const made = await tracker.createRequest({ userId: "u" });
    const given = await tracker.createRequest({ userId: "u", correlationId: "conv-42" });
    expect(made.correlationId).toMatch(/^[0-9a-f]{32}$/);
    expect((await tracker.getRequest(made.id))?.correlationId).toBe(made.correlationId);
    expect(given.correlationId).toBe("conv-42");
    // By id (not the object): withRequest, and trackStage outside any scope.
    const inScope = tracker.withRequest(given.id, () => propagationHeaders());
    expect(inScope).toMatchObject({ "X-Correlation-ID": "conv-42" });
    await tracker.startRequest(given.id);
    const inStage = await tracker.trackStage(given.id, "call", () => propagationHeaders());
    expect(inStage).toMatchObject({ "X-Correlation-ID": "conv-42", "X-Request-ID": given.id });
  });
});

describe("labels from input fields", () => {
  it("puts duration_seconds and the configured input fields on the completion log line", async () => {
    const { logger, lines } = captureLogger();
    const time = fakeClock();
    const tracker = await createTracker({
      storage: ":memory:",
      logger,
      clock: time.clock,
      watchdogIntervalMs: 0,
      labelFields: ["aspect_ratio"],
    });
    const seen: unknown[] = [];
    tracker.subscribe((e) => {
      if (e.type === "request.updated" && e.data.to === "completed") seen.push(e.data.labels);
    });
    const req = await tracker.createRequest({
      userId: "u",
      input: { prompt: "a cat", parameters: { aspect_ratio: "16:9" } },
    });
    await tracker.startRequest(req);
    time.advance(2500);
    await tracker.completeRequest(req);
    const line = lines.find((l) => l.msg === "status changed" && l.new_status === "completed");
    expect(line).toMatchObject({ duration_seconds: 2.5, labels: { aspect_ratio: "16:9" } });
    expect(seen).toEqual([{ aspect_ratio: "16:9" }]);
    await tracker.close();
    await expect(
      createTracker({ storage: ":memory:", labelFields: ["bad-name"], logger }),
    ).rejects.toThrow(ValidationError);
  });
});

describe("page sizes", () => {
  it("uses the configured default and refuses more than the maximum", async () => {
    const tracker = await createTracker({
      storage: ":memory:",
      watchdogIntervalMs: 0,
      pageSize: { default: 20, max: 100 },
      logger: silentLogger(),
    });
    for (let i = 0; i < 25; i++) await tracker.createRequest({ userId: "u" });
    const page = await tracker.listRequests();
    expect(page.items).toHaveLength(20);
    expect(page.total).toBe(25);
    expect((await tracker.listRequests({ limit: 100 })).items).toHaveLength(25);
    await expect(tracker.listRequests({ limit: 101 })).rejects.toMatchObject({
      field: "limit",
      message: expect.stringContaining("at most 100"),
    });
    await tracker.close();
  });
});

describe("middleware identity from the body and the query", () => {
  it("takes entity_id and session_id from a JSON body, the user from the query, and annotate works in the handler", async () => {
    const tracker = await createTracker({
      storage: ":memory:",
      watchdogIntervalMs: 0,
      logger: silentLogger(),
    });
    const app = Fastify();
    await app.register(reqtrack, {
      tracker,
      routes: { "POST /api/chat": "chat_message" },
      tenant: { body: "entity_id" },
      session: { body: "session_id" },
      user: { query: "user" },
    });
    app.post("/api/chat", async () => {
      await currentRequest()?.annotate({ intent: "question" });
      await currentRequest()?.recordCost({ service: "openai", amountUsd: 0.0045 });
      return { ok: true };
    });
    const res = await app.inject({
      method: "POST",
      url: "/api/chat?user=ada",
      payload: { entity_id: "company_123", session_id: "session_xyz", message: "hi" },
    });
    expect(res.statusCode).toBe(200);
    await tracker.flush();
    const stored = await tracker.getRequest(String(res.headers["x-request-id"]));
    expect(stored).toMatchObject({
      kind: "chat_message",
      tenantId: "company_123",
      sessionId: "session_xyz",
      userId: "ada",
      intent: "question",
      status: "completed",
      costUsd: 0.0045,
    });
    const report = await tracker.costs.report({ tenantId: "company_123" });
    expect(report.totalCostUsd).toBeCloseTo(0.0045);
    expect(report.bySession.top).toEqual([
      { sessionId: "session_xyz", requests: 1, costUsd: 0.0045 },
    ]);
    await app.close();
    await tracker.close();
  });
});
