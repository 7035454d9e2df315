import { describe, expect, it } from "vitest";
import {
  type AlertEvent,
  createTracker,
  currentRequest,
  type LiveEvent,
  ValidationError,
} from "../../src/index.js";
import { captureLogger, fakeClock, LEVEL } from "../support/helpers.js";

async function setup() {
  const { logger, lines } = captureLogger("info");
  const tracker = await createTracker({
    storage: ":memory:",
    logger,
    clock: fakeClock().clock,
    watchdogIntervalMs: 0,
  });
  const alerts: AlertEvent[] = [];
  tracker.subscribe((event: LiveEvent) => {
    if (event.type === "alert") alerts.push(event);
  });
  return { tracker, lines, alerts };
}

const failing = async (_topic: string): Promise<string> => {
  throw new Error("Gemini 503");
};

describe("circuit breakers (seed 002)", () => {
  it("fails the current stage as retryable and logs circuit_breaker_open when an open breaker refuses a call", async () => {
    const { tracker } = await setup();
    const gemini = tracker.breaker("gemini_api", failing);
    await expect(gemini.fire("warm-up")).rejects.toThrow("Gemini 503"); // one failure opens it
    expect(gemini.opened).toBe(true);

    const req = await tracker.createRequest({ userId: "student-1", kind: "content_generation" });
    await tracker.startRequest(req);
    const refused = tracker.withRequest(req, () =>
      currentRequest()?.trackStage("script_generation", () => gemini.fire("photosynthesis")),
    );
    await expect(refused).rejects.toMatchObject({ code: "EOPENBREAKER" });
    await tracker.flush();

    const stored = await tracker.getRequest(req);
    expect(stored?.stages).toMatchObject([
      {
        name: "script_generation",
        status: "failed",
        retryable: true,
        errorMessage: "gemini_api circuit breaker is open",
        errorDetails: { circuit_breaker: "gemini_api", state: "OPEN" },
      },
    ]);
    const event = (await tracker.getEvents(req)).find((e) => e.type === "circuit_breaker_open");
    expect(event).toMatchObject({
      severity: "warning",
      stage: "script_generation",
      message: "Circuit breaker prevented API call",
      data: { circuit_breaker: "gemini_api", state: "OPEN" },
    });
    await tracker.close();
  });

  it("reports state, calls, failures and failure rate per breaker", async () => {
    const { tracker } = await setup();
    let fail = false;
    const veo = tracker.breaker(
      "veo_api",
      async () => {
        if (fail) throw new Error("timeout");
        return "ok";
      },
      { volumeThreshold: 5, errorThresholdPercentage: 50 },
    );
    tracker.breaker("nano_banana_api", async () => "ok");
    for (let i = 0; i < 9; i++) await veo.fire();
    fail = true;
    await expect(veo.fire()).rejects.toThrow("timeout");
    expect(tracker.breakerStats()).toEqual({
      veo_api: {
        state: "CLOSED",
        totalCalls: 10,
        totalFailures: 1,
        totalRejected: 0,
        failureRatePct: 10,
      },
      nano_banana_api: {
        state: "CLOSED",
        totalCalls: 0,
        totalFailures: 0,
        totalRejected: 0,
        failureRatePct: 0,
      },
    });
    veo.open();
    await expect(veo.fire()).rejects.toMatchObject({ code: "EOPENBREAKER" });
    expect(tracker.breakerStats().veo_api).toEqual({
      state: "OPEN",
      totalCalls: 11,
      totalFailures: 2,
      totalRejected: 1,
      failureRatePct: 18.2,
    });
    await tracker.close();
  });

  it("alerts when a breaker opens, and once when its failure rate passes 10%", async () => {
    const { tracker, alerts, lines } = await setup();
    let fail = false;
    const api = tracker.breaker(
      "search_api",
      async () => {
        if (fail) throw new Error("boom");
      },
      { volumeThreshold: 100 }, // keep it closed while the rate climbs
    );
    for (let i = 0; i < 9; i++) await api.fire();
    fail = true;
    await api.fire().catch(() => {}); // 1 of 10: exactly 10%, no alert yet
    expect(alerts).toEqual([]);
    await api.fire().catch(() => {}); // 2 of 11: 18.2%
    await api.fire().catch(() => {}); // still high: no second alert
    expect(alerts.map((a) => a.name)).toEqual(["circuit_breaker_failure_rate"]);
    expect(alerts[0]).toMatchObject({
      message: "search_api failure rate is 18.2% (over 10%)",
      data: { circuit_breaker: "search_api", totalCalls: 11, totalFailures: 2 },
    });

    api.open();
    expect(alerts.map((a) => a.name)).toEqual([
      "circuit_breaker_failure_rate",
      "circuit_breaker_open",
    ]);
    expect(alerts[1]).toMatchObject({
      message: "search_api circuit breaker is OPEN",
      data: { circuit_breaker: "search_api", state: "OPEN" },
    });
    const warned = lines.filter((l) => l.level === LEVEL.warn && l.alert !== undefined);
    expect(warned.map((l) => l.alert)).toEqual([
      "circuit_breaker_failure_rate",
      "circuit_breaker_open",
    ]);
    await tracker.close();
  });

  it("with a fallback, a refused call logs the event but does not fail the stage", async () => {
    const { tracker } = await setup();
    const gemini = tracker.breaker("gemini_api", failing);
    gemini.fallback(() => "cached script");
    gemini.open();
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    const script = await tracker.withRequest(req, () =>
      currentRequest()?.trackStage("script_generation", () => gemini.fire("topic")),
    );
    expect(script).toBe("cached script");
    await tracker.flush();
    const stored = await tracker.getRequest(req);
    expect(stored?.stages).toMatchObject([{ name: "script_generation", status: "completed" }]);
    expect((await tracker.getEvents(req)).map((e) => e.type)).toContain("circuit_breaker_open");
    await tracker.close();
  });

  it("outside a request, a refused call only rejects; names are unique per tracker", async () => {
    const { tracker } = await setup();
    const api = tracker.breaker("lonely_api", failing);
    api.open();
    await expect(api.fire("x")).rejects.toMatchObject({ code: "EOPENBREAKER" });
    await tracker.flush();
    expect((await tracker.listRequests()).total).toBe(0);
    expect(() => tracker.breaker("lonely_api", failing)).toThrow(ValidationError);
    expect(() => tracker.breaker("bad name!", failing)).toThrow(ValidationError);
    await tracker.close();
  });
});
