import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { runInScope } from "../../src/context/scope.js";
import {
  createTracker,
  currentRequest,
  currentRequestId,
  requestIdMixin,
  ValidationError,
  withRequestIds,
} from "../../src/index.js";
import { captureLogger, fakeClock, type LogLine } from "../support/helpers.js";

async function setup() {
  const captured = captureLogger("debug");
  const tracker = await createTracker({
    storage: ":memory:",
    logger: captured.logger,
    clock: fakeClock().clock,
    watchdogIntervalMs: 0,
  });
  return { tracker, lines: captured.lines };
}

/** A pino logger of the app's own, writing parsed lines into an array. */
function appLogger(options: pino.LoggerOptions = {}) {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)));
      callback();
    },
  });
  return { logger: pino(options, stream), lines, flushed: () => new Promise(setImmediate) };
}

describe("tracker.withRequest / currentRequestId", () => {
  it('returns "unknown" outside any scope and the id inside, through awaits, nesting and back', async () => {
    const { tracker } = await setup();
    expect(currentRequestId()).toBe("unknown");
    const seen = await tracker.withRequest("req-outer", async () => {
      const before = currentRequestId();
      await new Promise((resolve) => setTimeout(resolve, 1));
      const inner = tracker.withRequest("req-inner", () => currentRequestId());
      return [before, inner, currentRequestId()];
    });
    expect(seen).toEqual(["req-outer", "req-inner", "req-outer"]);
    expect(currentRequestId()).toBe("unknown");
    await tracker.close();
  });

  it("takes the request object or its id, and refuses an invalid id", async () => {
    const { tracker } = await setup();
    const req = await tracker.createRequest({ userId: "u" });
    expect(tracker.withRequest(req, () => currentRequestId())).toBe(req.id);
    expect(() => tracker.withRequest("bad id", () => 1)).toThrow(ValidationError);
    await tracker.close();
  });
});

describe("currentRequest()", () => {
  it("is undefined outside a scope and in a bare scope without a tracker (e.g. a worker run)", async () => {
    expect(currentRequest()).toBeUndefined();
    runInScope({ requestId: "req-bare", correlationId: null }, () => {
      expect(currentRequestId()).toBe("req-bare");
      expect(currentRequest()).toBeUndefined();
    });
  });

  it("logs events, records costs, counts and tracks stages without naming the request", async () => {
    const { tracker } = await setup();
    const req = await tracker.createRequest({ userId: "u", kind: "chat_message" });
    await tracker.startRequest(req);
    await tracker.withRequest(req.id, async () => {
      const handle = currentRequest();
      expect(handle?.id).toBe(req.id);
      await handle?.logEvent({ type: "api_call", message: "Calling Gemini" });
      await handle?.increment("tool_calls", 2);
      const out = await handle?.trackStage("retrieval", async () => {
        // Inside a stage, events and costs name it by default.
        expect(currentRequest()?.stage).toBe("retrieval");
        await currentRequest()?.recordCost({ service: "openai", amountUsd: 0.0045 });
        await currentRequest()?.logEvent({ type: "chunks_found", data: { n: 4 } });
        return { chunks: 4 };
      });
      expect(out).toEqual({ chunks: 4 });
    });
    const stored = await tracker.getRequest(req);
    expect(stored).toMatchObject({
      costUsd: 0.0045,
      counters: { tool_calls: 2 },
      stages: [{ name: "retrieval", status: "completed", output: { chunks: 4 } }],
      costs: [{ service: "openai", stage: "retrieval" }],
    });
    const events = await tracker.getEvents(req);
    expect(events.find((e) => e.type === "api_call")?.stage).toBeNull();
    expect(events.find((e) => e.type === "chunks_found")?.stage).toBe("retrieval");
    await tracker.close();
  });

  it("gives tracker.trackStage a scope of its own, so the stage body knows its request", async () => {
    const { tracker } = await setup();
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    const seen = await tracker.trackStage(req, "render", () => [
      currentRequestId(),
      currentRequest()?.stage,
    ]);
    expect(seen).toEqual([req.id, "render"]);
    expect(currentRequestId()).toBe("unknown");
    await tracker.close();
  });
});

describe("logging with request ids", () => {
  it("tracker.logger adds request_id to every line inside a scope, and none outside", async () => {
    const { tracker, lines } = await setup();
    tracker.logger.info("outside");
    await tracker.withRequest("req-logged", async () => {
      tracker.logger.info("inside");
      await Promise.resolve();
      tracker.logger.child({ component: "retriever" }).warn({ n: 3 }, "child inside");
      tracker.logger.info({ request_id: "req-explicit" }, "explicit wins");
    });
    const byMsg = (msg: string) => lines.find((l) => l.msg === msg);
    expect(byMsg("outside")?.request_id).toBeUndefined();
    expect(byMsg("inside")?.request_id).toBe("req-logged");
    expect(byMsg("child inside")).toMatchObject({
      request_id: "req-logged",
      component: "retriever",
      n: 3,
    });
    expect(byMsg("explicit wins")?.request_id).toBe("req-explicit");
    await tracker.close();
  });

  it("wraps an app's own pino logger, keeping its own mixin; wrapping twice is a no-op", async () => {
    const { tracker } = await setup();
    const app = appLogger({ mixin: () => ({ service: "rag-api" }) });
    const log = withRequestIds(app.logger);
    expect(withRequestIds(log)).toBe(log);
    await tracker.withRequest("req-app", async () => log.info("in app code"));
    log.info("outside");
    await app.flushed();
    expect(app.lines[0]).toMatchObject({
      msg: "in app code",
      request_id: "req-app",
      service: "rag-api",
    });
    expect(app.lines[1]).toMatchObject({ msg: "outside", service: "rag-api" });
    expect(app.lines[1]?.request_id).toBeUndefined();
    await tracker.close();
  });

  it("offers requestIdMixin for loggers the app creates itself", async () => {
    const { tracker } = await setup();
    const app = appLogger({ mixin: requestIdMixin });
    await tracker.withRequest("req-mixin", async () => app.logger.info("hello"));
    await app.flushed();
    expect(app.lines[0]?.request_id).toBe("req-mixin");
    await tracker.close();
  });
});
