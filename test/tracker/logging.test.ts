import { describe, expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { captureLogger, fakeClock, LEVEL } from "../support/helpers.js";

describe("structured logging (seed 001)", () => {
  it("logs creation at info with ids, prompt length, parameters and only 50 prompt characters", async () => {
    const { logger, lines } = captureLogger();
    const tracker = await createTracker({ storage: ":memory:", logger });
    const prompt =
      "A cinematic drone shot over a misty fjord at sunrise, 8 seconds, no text overlays";
    const req = await tracker.createRequest({
      userId: "user-7",
      tenantId: "guild-42",
      input: { prompt, parameters: { duration: 8, aspectRatio: "16:9" } },
    });
    const line = lines.find((l) => l.msg === "request created");
    expect(line).toMatchObject({
      level: LEVEL.info,
      request_id: req.id,
      user_id: "user-7",
      tenant_id: "guild-42",
      prompt_length: prompt.length,
      prompt: prompt.slice(0, 50),
      parameters: { duration: 8, aspectRatio: "16:9" },
    });
    expect(JSON.stringify(lines)).not.toContain("no text overlays");
    await tracker.close();
  });

  it("leaves the prompt text out of every line with redactPrompts, keeping its length", async () => {
    const { logger, lines } = captureLogger();
    const tracker = await createTracker({ storage: ":memory:", logger, redactPrompts: true });
    const prompt = "Secret launch plan for the fjord campaign";
    const req = await tracker.createRequest({ userId: "user-7", input: { prompt } });
    await tracker.createRequest({ userId: "user-7", initialMessage: prompt });
    await tracker.startRequest(req);
    const created = lines.filter((l) => l.msg === "request created");
    expect(created).toHaveLength(2);
    for (const line of created) {
      expect(line).toMatchObject({ request_id: expect.any(String), prompt_length: prompt.length });
      expect(line).not.toHaveProperty("prompt");
    }
    expect(JSON.stringify(lines)).not.toContain("Secret");
    await tracker.close();
  });

  it("rejects a redactPrompts that is not a boolean", async () => {
    await expect(
      createTracker({ storage: ":memory:", redactPrompts: "yes" as unknown as boolean }),
    ).rejects.toMatchObject({ code: "RT_ERR_VALIDATION", field: "redactPrompts" });
  });

  it("logs each transition at info with old/new status and duration, and the error on failure", async () => {
    const time = fakeClock();
    const { logger, lines } = captureLogger();
    const tracker = await createTracker({ storage: ":memory:", logger, clock: time.clock });
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    time.advance(7_000);
    await tracker.failRequest(req, "Vertex AI quota exceeded");
    const transitions = lines.filter((l) => l.msg === "status changed");
    expect(transitions).toHaveLength(2);
    expect(transitions[1]).toMatchObject({
      level: LEVEL.info,
      request_id: req.id,
      old_status: "running",
      new_status: "failed",
      duration_ms: 7_000,
      error_message: "Vertex AI quota exceeded",
    });
    expect(transitions[0]?.error_message).toBeUndefined();
    await tracker.close();
  });

  it("logs queries slower than 100 ms with type and parameter count, at warn above 500 ms", async () => {
    const time = fakeClock();
    let queryCost = 0;
    // Each clock read during a query moves time by `queryCost`: a slow query without sleeping.
    const clock = () => {
      time.advance(queryCost);
      return time.now();
    };
    const { logger, lines } = captureLogger();
    const tracker = await createTracker({ storage: ":memory:", logger, clock });
    await tracker.createRequest({ userId: "u" });
    queryCost = 150;
    await tracker.listRequests({ userId: "u", status: "pending" });
    queryCost = 600;
    await tracker.getUserRequests("u");
    queryCost = 50;
    await tracker.listRequests({});
    const slow = lines.filter((l) => l.msg === "slow query");
    expect(slow).toHaveLength(2);
    expect(slow[0]).toMatchObject({
      level: LEVEL.info,
      query_type: "list_requests",
      param_count: 2,
      duration_ms: 150,
    });
    expect(slow[1]).toMatchObject({ level: LEVEL.warn, duration_ms: 600 });
    await tracker.close();
  });

  it("keeps credentials out of stored and logged error messages", async () => {
    const { logger, lines } = captureLogger();
    const tracker = await createTracker({ storage: ":memory:", logger });
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    await tracker.failRequest(
      req,
      "401 calling https://api.example.com/v1?api_key=sk-live-0123456789abcdefXYZ",
    );
    expect((await tracker.getRequest(req))?.errorMessage).toBe(
      "401 calling https://api.example.com/v1?api_key=[redacted]",
    );
    expect(JSON.stringify(lines)).not.toContain("0123456789abcdef");
    await tracker.close();
  });
});
