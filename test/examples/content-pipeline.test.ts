import { afterEach, describe, expect, it } from "vitest";
import type { LiveEvent } from "reqtrack";
import { serve, type RunningServer } from "reqtrack/server";
import {
  type ContentPipeline,
  createContentPipeline,
  STAGES,
} from "../../examples/content-pipeline/app.js";
import { FakeServices } from "../../examples/content-pipeline/fake-services.js";
import { silentLogger } from "../support/helpers.js";

// Seed 002: a six-stage content-generation pipeline with circuit breakers and a dashboard.
describe("example content-pipeline (seed 002)", () => {
  let pipeline: ContentPipeline;
  let services: FakeServices;
  let server: RunningServer | undefined;
  afterEach(async () => {
    if (server) await server.close();
    else await pipeline?.close();
    server = undefined;
    await services?.stop();
  });

  async function start() {
    services = await new FakeServices().start();
    pipeline = await createContentPipeline({
      storage: ":memory:",
      servicesUrl: services.url,
      logger: silentLogger(),
    });
  }
  const submit = (topic = "Photosynthesis") =>
    pipeline.submit({
      studentId: "s1",
      orgId: "school-1",
      topic,
      learningObjective: `Explain ${topic}`,
    });

  it("runs six stages and sends the correlation id made at creation to every external call", async () => {
    await start();
    const req = await submit();
    expect(req.correlationId).toMatch(/^[0-9a-f]{32}$/);
    await pipeline.processNext();
    const done = await pipeline.tracker.getRequest(req.id);
    expect(done?.status).toBe("completed");
    expect(done?.stages.map((s) => [s.name, s.status])).toEqual(
      STAGES.map((s) => [s, "completed"]),
    );
    expect(done?.costs.map((c) => c.service)).toEqual(["vector_search", "gemini", "nano_banana"]);
    expect(services.received.map((c) => c.service)).toEqual([
      "vector_search",
      "gemini",
      "nano_banana",
      "cdn",
      "email",
    ]);
    for (const call of services.received) {
      expect(call.headers["x-correlation-id"]).toBe(req.correlationId);
      expect(call.headers["x-request-id"]).toBe(req.id);
    }
    const events = (await pipeline.tracker.getEvents(req.id)).map((e) => e.type);
    expect(events).toContain("validation_passed");
    expect(events).toContain("notification_sent");
  });

  it("fails at the broken stage as retryable, and a retry resumes there without redoing earlier stages", async () => {
    await start();
    services.failing.add("nano_banana");
    const req = await submit();
    await pipeline.processNext();
    const failed = await pipeline.tracker.getRequest(req.id);
    expect(failed).toMatchObject({ status: "failed", errorStage: "video_generation", attempts: 1 });
    expect(failed?.stages.find((s) => s.name === "video_generation")).toMatchObject({
      status: "failed",
      retryable: true,
    });
    services.failing.delete("nano_banana");
    await pipeline.retry(req.id);
    await pipeline.processNext();
    const done = await pipeline.tracker.getRequest(req.id);
    expect(done).toMatchObject({ status: "completed", attempts: 2 });
    expect(services.calls("gemini")).toHaveLength(1);
    expect(services.calls("vector_search")).toHaveLength(1);
    expect(done?.stages.filter((s) => s.name === "video_generation").map((s) => s.status)).toEqual([
      "failed",
      "completed",
    ]);
  });

  it("opens the breaker after repeated failures, alerts, and refuses calls as a retryable stage failure", async () => {
    await start();
    const alerts: LiveEvent[] = [];
    pipeline.tracker.subscribe((e) => {
      if (e.type === "alert") alerts.push(e);
    });
    services.failing.add("nano_banana");
    await submit("Fractions");
    await submit("Fractions");
    await pipeline.processNext();
    await pipeline.processNext();
    expect(pipeline.tracker.breakerStats().nano_banana_api).toMatchObject({
      state: "OPEN",
      totalFailures: 2,
    });
    expect(alerts.some((a) => a.type === "alert" && a.name === "circuit_breaker_open")).toBe(true);
    const refused = await submit("Fractions");
    await pipeline.processNext();
    expect(services.calls("nano_banana")).toHaveLength(2);
    const stored = await pipeline.tracker.getRequest(refused.id);
    expect(stored).toMatchObject({ status: "failed", errorStage: "video_generation" });
    expect(stored?.stages.find((s) => s.name === "video_generation")?.retryable).toBe(true);
    const events = await pipeline.tracker.getEvents(refused.id);
    expect(events.find((e) => e.type === "circuit_breaker_open")).toMatchObject({
      stage: "video_generation",
      severity: "warning",
    });
  });

  it("streams the request's stages live to the dashboard's SSE endpoint", async () => {
    await start();
    server = await serve({ tracker: pipeline.tracker, port: 0 });
    const controller = new AbortController();
    const stream = await fetch(`${server.url}/api/v1/stream`, { signal: controller.signal });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const req = await submit();
    await pipeline.processNext();
    let text = "";
    while (!text.includes('"stage":"notification"') || !text.includes("completed")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(text).toContain(req.id);
    for (const stage of STAGES) expect(text).toContain(stage);
  });
});
