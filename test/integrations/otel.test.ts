import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import Fastify from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createTracker,
  currentRequest,
  enableOpenTelemetry,
  propagationHeaders,
  type Tracker,
} from "../../src/index.js";
import { reqtrack } from "../../src/integrations/fastify.js";
import { captureLogger } from "../support/helpers.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

describe("OpenTelemetry export", () => {
  let exporter: InMemorySpanExporter;
  let provider: BasicTracerProvider;
  let tracker: Tracker;
  let stop: () => void;

  beforeEach(async () => {
    exporter = new InMemorySpanExporter();
    provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger().logger,
      watchdogIntervalMs: 0,
    });
    stop = await enableOpenTelemetry(tracker, { tracerProvider: provider });
  });
  afterEach(async () => {
    stop();
    await tracker.close();
    await provider.shutdown();
  });

  const spans = () => exporter.getFinishedSpans();
  const named = (name: string) => spans().find((span) => span.name === name) as ReadableSpan;

  it("makes a request a span, its stages child spans, its events span events, its costs attributes", async () => {
    const req = await tracker.createRequest({
      userId: "u1",
      tenantId: "guild-42",
      kind: "video_generation",
    });
    await tracker.withRequest(req, async () => {
      await tracker.startRequest(req);
      await currentRequest()?.trackStage("script_generation", async () => {
        await currentRequest()?.logEvent({ type: "api_call", message: "Calling Gemini" });
        await currentRequest()?.recordCost({ service: "openai", amountUsd: 0.0045 });
        await currentRequest()?.recordCost({ service: "openai", amountUsd: 0.0005 });
      });
      await currentRequest()
        ?.trackStage("video_render", async () => {
          throw new Error("render farm down");
        })
        .catch(() => {});
      await currentRequest()?.increment("tool_calls", 2);
      await tracker.failRequest(req, "render farm down");
    });
    await tracker.flush();

    const request = named("video_generation");
    expect(request.attributes).toMatchObject({
      "reqtrack.request_id": req.id,
      "reqtrack.kind": "video_generation",
      "reqtrack.tenant_id": "guild-42",
      "reqtrack.user_id": "u1",
      "reqtrack.status": "failed",
      "reqtrack.cost_usd": 0.005,
      "reqtrack.cost.openai_usd": 0.005,
      "reqtrack.counter.tool_calls": 2,
    });
    expect(request.status).toMatchObject({ code: 2, message: "render farm down" });

    const script = named("script_generation");
    const render = named("video_render");
    for (const stage of [script, render]) {
      expect(stage.spanContext().traceId).toBe(request.spanContext().traceId);
      expect(stage.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    }
    expect(script.status.code).toBe(1);
    expect(script.events.map((e) => [e.name, e.attributes?.["reqtrack.message"]])).toEqual([
      ["api_call", "Calling Gemini"],
    ]);
    expect(render.status).toMatchObject({ code: 2, message: "render farm down" });
  });

  it("keeps the trace id of a request that came in with traceparent, and names its span to callees", async () => {
    const app = Fastify();
    await app.register(reqtrack, { tracker, routes: { "POST /api/chat": "chat_message" } });
    app.post("/api/chat", async () => propagationHeaders());
    const response = await app.inject({
      method: "POST",
      url: "/api/chat",
      headers: { traceparent: `00-${TRACE}-${CALLER_SPAN}-01` },
    });
    const outgoing = response.json() as { traceparent: string };
    const id = response.headers["x-request-id"];
    for (let turn = 0; turn < 1000 && spans().length === 0; turn++) {
      await tracker.flush();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await app.close();

    const request = named("chat_message");
    expect(request.attributes["reqtrack.request_id"]).toBe(id);
    expect(request.spanContext().traceId).toBe(TRACE);
    expect(request.parentSpanContext).toMatchObject({ spanId: CALLER_SPAN, isRemote: true });
    expect(outgoing.traceparent).toBe(`00-${TRACE}-${request.spanContext().spanId}-01`);
  });

  it("ends the span of a bare scope whose request the tracker never writes", async () => {
    await tracker.withRequest("req-log-only", async () => {});
    for (let turn = 0; turn < 100 && spans().length === 0; turn++) await tracker.flush();
    expect(spans().map((span) => span.attributes["reqtrack.request_id"])).toEqual(["req-log-only"]);
  });

  it("stops exporting, and stops change capture, when turned off", async () => {
    stop();
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    await tracker.completeRequest(req);
    await tracker.flush();
    expect(spans()).toEqual([]);
  });
});
