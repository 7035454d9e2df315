import { expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger } from "../support/helpers.js";

const blockFor = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // A busy loop: the event loop is held, as under far more work than the process can do.
  }
};
const nextSample = () => new Promise((resolve) => setTimeout(resolve, 120));

it("sheds calls with a coded 503 and Retry-After while the event loop lags, keeps /healthz, /readyz and /metrics, and recovers", async () => {
  const tracker = await createTracker({
    storage: ":memory:",
    logger: captureLogger("error").logger,
    watchdogIntervalMs: 0,
  });
  const app = await buildApp({
    tracker,
    logger: false,
    shedding: { maxEventLoopDelayMs: 250, sampleIntervalMs: 100, retryAfterSeconds: 3 },
  });
  await app.ready();
  try {
    // A busy machine (tests run side by side) can lag on its own: start from a calm sample.
    const calm = async () => {
      let response = await app.inject({ method: "GET", url: "/api/v1/requests" });
      for (let i = 0; i < 100 && response.statusCode !== 200; i++) {
        await nextSample();
        response = await app.inject({ method: "GET", url: "/api/v1/requests" });
      }
      return response;
    };
    expect((await calm()).statusCode).toBe(200);
    // Lag the loop until a sample sees it (samples come every 100 ms).
    let shed = await app.inject({ method: "GET", url: "/api/v1/requests" });
    for (let i = 0; i < 20 && shed.statusCode !== 503; i++) {
      blockFor(1000);
      await new Promise((resolve) => setTimeout(resolve, 0));
      shed = await app.inject({ method: "GET", url: "/api/v1/requests" });
    }
    expect(shed.statusCode).toBe(503);
    expect(shed.headers["retry-after"]).toBe("3");
    expect(shed.json()).toMatchObject({ code: "RT_ERR_OVERLOADED" });
    for (const url of ["/healthz", "/readyz", "/metrics"]) {
      expect((await app.inject({ method: "GET", url })).statusCode, url).toBe(200);
    }
    // Once the loop is free again, calls go through.
    expect((await calm()).statusCode).toBe(200);
  } finally {
    await app.close();
    await tracker.close();
  }
});

/**
 * Regression: building the app (and on a busy machine, everything before its first call) can
 * hold the event loop through a whole sample; the plugin reads an empty sample as an infinite
 * delay, and a server that had just started answered its first calls with 503.
 */
it("does not shed the first calls of an app whose start held the event loop", async () => {
  const tracker = await createTracker({
    storage: ":memory:",
    logger: captureLogger("error").logger,
    watchdogIntervalMs: 0,
  });
  const app = await buildApp({
    tracker,
    logger: false,
    shedding: { maxEventLoopDelayMs: 250, sampleIntervalMs: 100 },
  });
  try {
    // A slow start: no sample of the loop is taken for three sample intervals.
    blockFor(300);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const first = await app.inject({ method: "GET", url: "/api/v1/requests" });
    expect(first.statusCode).toBe(200);
  } finally {
    await app.close();
    await tracker.close();
  }
});
