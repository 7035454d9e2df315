import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createTracker,
  InvalidTransitionError,
  MaxAttemptsError,
  NotFoundError,
  type Tracker,
} from "../../src/index.js";
import { captureLogger, fakeClock, LEVEL, type LogLine } from "../support/helpers.js";

describe("tracker lifecycle", () => {
  let tracker: Tracker;
  let time: ReturnType<typeof fakeClock>;
  let lines: LogLine[];

  beforeEach(async () => {
    time = fakeClock();
    const captured = captureLogger();
    lines = captured.lines;
    tracker = await createTracker({
      storage: ":memory:",
      clock: time.clock,
      logger: captured.logger,
    });
  });
  afterEach(async () => {
    await tracker.close();
  });

  const base = { userId: "user-1", channelId: "channel-1", initialMessage: "Process this request" };

  it("runs the seed-000 example: create, start, complete, then find it in the user's history", async () => {
    const req = await tracker.createRequest({ ...base, priority: 0.8 });
    expect(req).toMatchObject({ status: "pending", lane: "high", priority: 0.8, userId: "user-1" });
    await tracker.startRequest(req, "processor-1");
    await tracker.completeRequest(req, { result: "success" });
    const [found] = await tracker.getUserRequests("user-1");
    expect(found).toMatchObject({
      id: req.id,
      status: "completed",
      workerId: "processor-1",
      result: { result: "success" },
    });
  });

  it("rejects completed -> running, logs a warning, and leaves the row untouched", async () => {
    const req = await tracker.createRequest(base);
    await tracker.startRequest(req.id);
    await tracker.completeRequest(req.id);
    const before = await tracker.getRequest(req.id);
    const attempt = tracker.startRequest(req.id, "late-worker");
    await expect(attempt).rejects.toThrowError(InvalidTransitionError);
    await expect(attempt).rejects.toMatchObject({
      code: "RT_ERR_INVALID_TRANSITION",
      message: "Invalid status transition: completed -> running",
    });
    expect(await tracker.getRequest(req.id)).toEqual(before);
    const warning = lines.find(
      (l) => l.level === LEVEL.warn && String(l.msg).includes("Invalid status transition"),
    );
    expect(warning).toMatchObject({
      request_id: req.id,
      old_status: "completed",
      new_status: "running",
    });
  });

  it("rejects pending -> completed and pending -> failed (a run must start first)", async () => {
    const req = await tracker.createRequest(base);
    await expect(tracker.completeRequest(req.id)).rejects.toThrowError(
      "Invalid status transition: pending -> completed",
    );
    await expect(tracker.failRequest(req.id, "x")).rejects.toThrowError(
      "Invalid status transition: pending -> failed",
    );
    expect((await tracker.getRequest(req.id))?.status).toBe("pending");
  });

  it("treats a same-status update as a no-op that refreshes completedAt", async () => {
    const req = await tracker.createRequest(base);
    await tracker.startRequest(req.id);
    time.advance(1000);
    await tracker.completeRequest(req.id, "first");
    time.advance(500);
    await tracker.completeRequest(req.id, "second");
    const got = await tracker.getRequest(req.id);
    expect(got?.completedAt?.getTime()).toBe(time.now());
    expect(got?.result).toBe("first");
    expect(
      (await tracker.getEvents(req.id)).filter((e) => e.type === "status_changed"),
    ).toHaveLength(2);
  });

  it("takes queue and run times from the injected clock", async () => {
    const req = await tracker.createRequest(base);
    time.advance(2_500);
    await tracker.startRequest(req.id, "w1");
    time.advance(40_000);
    await tracker.failRequest(req.id, { message: "model overloaded" });
    const got = await tracker.getRequest(req.id);
    expect(got).toMatchObject({
      queueMs: 2_500,
      durationMs: 40_000,
      status: "failed",
      errorMessage: "model overloaded",
    });
    const started = lines.find((l) => l.msg === "status changed" && l.new_status === "running");
    expect(started).toMatchObject({ queue_ms: 2_500 });
  });

  it("times out with the seed-001 message; the number follows the request's or kind's limit", async () => {
    await tracker.close();
    tracker = await createTracker({
      storage: ":memory:",
      clock: time.clock,
      logger: captureLogger().logger,
      timeouts: { video_generation: 600_000 },
    });
    const plain = await tracker.createRequest(base);
    const video = await tracker.createRequest({ ...base, kind: "video_generation" });
    const custom = await tracker.createRequest({
      ...base,
      kind: "video_generation",
      timeoutMs: 90_000,
    });
    for (const r of [plain, video, custom]) {
      await tracker.startRequest(r.id);
      await tracker.timeoutRequest(r.id);
    }
    const messages = await Promise.all(
      [plain, video, custom].map(async (r) => (await tracker.getRequest(r.id))?.errorMessage),
    );
    expect(messages).toEqual([
      "Generation timed out after 5 minutes",
      "Generation timed out after 10 minutes",
      "Generation timed out after 90 seconds",
    ]);
  });

  it("cancels pending or running requests with a reason; times out a pending one", async () => {
    const a = await tracker.createRequest(base);
    const b = await tracker.createRequest(base);
    const c = await tracker.createRequest(base);
    await tracker.cancelRequest(a, "user left");
    await tracker.startRequest(b);
    await tracker.cancelRequest(b, "superseded");
    await tracker.timeoutRequest(c);
    expect(await tracker.getRequest(a.id)).toMatchObject({
      status: "cancelled",
      errorMessage: "user left",
      durationMs: null,
    });
    expect(await tracker.getRequest(b.id)).toMatchObject({
      status: "cancelled",
      errorMessage: "superseded",
      durationMs: 0,
    });
    expect(await tracker.getRequest(c.id)).toMatchObject({ status: "timeout", durationMs: null });
  });

  it("retries a failed request while attempts < maxAttempts, then refuses clearly", async () => {
    const req = await tracker.createRequest({ ...base, maxAttempts: 2 });
    await tracker.startRequest(req.id);
    await tracker.failRequest(req.id, { message: "flaky", stage: "render" });
    await tracker.retryRequest(req.id);
    expect(await tracker.getRequest(req.id)).toMatchObject({
      status: "pending",
      attempts: 1,
      errorStage: "render",
    });
    await tracker.startRequest(req.id);
    await tracker.timeoutRequest(req.id);
    const refused = tracker.retryRequest(req.id);
    await expect(refused).rejects.toThrowError(MaxAttemptsError);
    await expect(refused).rejects.toMatchObject({ code: "RT_ERR_MAX_ATTEMPTS" });
    expect(await tracker.getRequest(req.id)).toMatchObject({ status: "timeout", attempts: 2 });
  });

  it("answers unknown ids with null on reads and NotFoundError on writes", async () => {
    expect(await tracker.getRequest("req_nope")).toBeNull();
    expect(await tracker.getEvents("req_nope")).toEqual([]);
    await expect(tracker.startRequest("req_nope")).rejects.toThrowError(NotFoundError);
    await expect(tracker.logEvent("req_nope", { type: "x" })).rejects.toMatchObject({
      code: "RT_ERR_NOT_FOUND",
    });
  });
});

describe("tracker stages, events, costs and counters", () => {
  let tracker: Tracker;
  let time: ReturnType<typeof fakeClock>;

  beforeEach(async () => {
    time = fakeClock();
    tracker = await createTracker({
      storage: ":memory:",
      clock: time.clock,
      logger: captureLogger().logger,
    });
  });
  afterEach(async () => {
    await tracker.close();
  });

  it("trackStage completes with the returned value as output, timed by the clock", async () => {
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    const script = await tracker.trackStage(req, "script_generation", async () => {
      time.advance(1_200);
      return { words: 420 };
    });
    expect(script).toEqual({ words: 420 });
    const got = await tracker.getRequest(req.id);
    expect(got?.stages).toMatchObject([
      {
        name: "script_generation",
        attempt: 1,
        status: "completed",
        durationMs: 1_200,
        output: { words: 420 },
      },
    ]);
  });

  it("trackStage fails the stage with message, type, stack and retryable, and rethrows", async () => {
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    class ApiTimeout extends Error {
      override name = "ApiTimeout";
      retryable = true;
    }
    const run = tracker.trackStage(req, "video_generation", async () => {
      time.advance(300);
      throw new ApiTimeout("Nano Banana API timeout");
    });
    await expect(run).rejects.toThrowError("Nano Banana API timeout");
    await tracker.failRequest(req, { message: "Nano Banana API timeout" });
    const got = await tracker.getRequest(req.id);
    expect(got?.errorStage).toBe("video_generation");
    const [stage] = got?.stages ?? [];
    expect(stage).toMatchObject({
      status: "failed",
      durationMs: 300,
      retryable: true,
      errorMessage: "Nano Banana API timeout",
    });
    expect(stage?.errorDetails).toMatchObject({ exceptionType: "ApiTimeout" });
    expect(String((stage?.errorDetails as { stack?: string } | undefined)?.stack)).toContain(
      "Nano Banana API timeout",
    );
  });

  it("records errorStage from the running stage when a request fails without naming one", async () => {
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    await tracker.startStage(req, "rag_retrieval");
    await tracker.completeStage(req, "rag_retrieval", { chunks: 5 });
    await tracker.startStage(req, "video_generation");
    await tracker.failRequest(req, "provider down");
    expect(await tracker.getRequest(req.id)).toMatchObject({ errorStage: "video_generation" });
  });

  it("keeps status changes, stage changes and logged events in one ordered history", async () => {
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    await tracker.startStage(req, "rag_retrieval");
    await tracker.logEvent(req, {
      type: "api_call",
      message: "Calling Gemini",
      severity: "info",
      stage: "rag_retrieval",
      data: { model: "gemini" },
    });
    await tracker.failStage(req, "rag_retrieval", { message: "quota", retryable: true });
    await tracker.logEvent(req, {
      type: "circuit_breaker_open",
      message: "breaker open",
      severity: "warning",
    });
    await tracker.failRequest(req, "quota");
    const events = await tracker.getEvents(req);
    expect(events.map((e) => [e.seq, e.type, e.severity])).toEqual([
      [1, "request_created", "info"],
      [2, "status_changed", "info"],
      [3, "stage_started", "info"],
      [4, "api_call", "info"],
      [5, "stage_failed", "error"],
      [6, "circuit_breaker_open", "warning"],
      [7, "status_changed", "error"],
    ]);
    expect(events[3]).toMatchObject({
      message: "Calling Gemini",
      stage: "rag_retrieval",
      data: { model: "gemini" },
    });
  });

  it("sums costs exactly: 0.1 + 0.2 reports 0.3, with per-service sums", async () => {
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.recordCost(req, { service: "openai", amountUsd: 0.1, usage: { tokens: 150 } });
    await tracker.recordCost(req, { service: "openai", amountUsd: 0.2 });
    await tracker.recordCost(req, { service: "file_processor", amountUsd: 0.0045 });
    const got = await tracker.getRequest(req.id);
    expect(got?.costUsd).toBe(0.3045);
    const byService = new Map<string, number>();
    for (const c of got?.costs ?? [])
      byService.set(c.service, (byService.get(c.service) ?? 0) + c.amountMicros);
    expect(Object.fromEntries(byService)).toEqual({ openai: 300_000, file_processor: 4_500 });
    expect(got?.costs[0]).toMatchObject({ amountUsd: 0.1, usage: { tokens: 150 } });
  });

  it("counts agent_calls, tool_calls and rounds", async () => {
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.increment(req, "agent_calls");
    await tracker.increment(req, "tool_calls", 3);
    await tracker.increment(req, "tool_calls");
    expect((await tracker.getRequest(req.id))?.counters).toEqual({ agent_calls: 1, tool_calls: 4 });
  });

  it("accepts the Request object wherever an id goes", async () => {
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    await tracker.logEvent(req, { type: "note" });
    await tracker.completeRequest(req);
    expect((await tracker.getRequest(req))?.status).toBe("completed");
  });
});

describe("ids", () => {
  it("defaults to req_ + UUIDv7, keeps a caller's own id, and returns the existing request for a duplicate", async () => {
    const { logger, lines } = captureLogger();
    const tracker = await createTracker({ storage: ":memory:", logger });
    const generated = await tracker.createRequest({ userId: "u" });
    expect(generated.id).toMatch(
      /^req_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const mine = await tracker.createRequest({
      userId: "u",
      id: "discord-interaction-42",
      initialMessage: "first",
    });
    await tracker.startRequest(mine);
    const again = await tracker.createRequest({
      userId: "other",
      id: "discord-interaction-42",
      initialMessage: "second",
    });
    expect(again).toMatchObject({
      id: "discord-interaction-42",
      userId: "u",
      initialMessage: "first",
      status: "running",
    });
    expect((await tracker.listRequests({})).total).toBe(2);
    expect(
      lines.find((l) => l.level === LEVEL.warn && l.request_id === "discord-interaction-42")?.msg,
    ).toMatch(/exists/);
    await tracker.close();
  });
});
