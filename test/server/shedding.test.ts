import * as http from "node:http";
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

/** A POST whose headers promise a body that has not come yet: the call stays in flight. */
function halfSentCreate(base: string) {
  const body = JSON.stringify({ userId: "slow" });
  const request = http.request(`${base}/api/v1/requests`, {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
  });
  const status = new Promise<number>((resolve, reject) => {
    request.on("response", (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("error", reject);
  });
  request.flushHeaders();
  return { finish: () => request.end(body), status };
}

it("refuses calls past maxInFlight with a coded 503 before reading them, keeps probes and the stream, and frees the slot when a call ends", async () => {
  const tracker = await createTracker({
    storage: ":memory:",
    logger: captureLogger("error").logger,
    watchdogIntervalMs: 0,
  });
  // The event-loop limit is out of reach here: only the in-flight count sheds.
  const app = await buildApp({
    tracker,
    logger: false,
    shedding: { maxInFlight: 3, maxEventLoopDelayMs: 60_000 },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const get = async (path: string) => {
    const response = await fetch(`${base}${path}`);
    return {
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      body: await response.json(),
    };
  };
  try {
    const held = [halfSentCreate(base), halfSentCreate(base), halfSentCreate(base)];
    // Each call below either goes through (a slot was still free) or is shed once all three
    // held calls have reached the server; the loop ends at the first shed.
    let shed = await get("/api/v1/requests");
    for (let i = 0; i < 200 && shed.status !== 503; i++) shed = await get("/api/v1/requests");
    expect(shed.status).toBe(503);
    expect(shed.retryAfter).toBe("2");
    expect(shed.body).toMatchObject({
      code: "RT_ERR_OVERLOADED",
      message: expect.stringContaining("3 calls in flight, limit 3"),
    });
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(200);
    }
    const stream = await fetch(`${base}/api/v1/stream`);
    expect(stream.status).toBe(200);
    await stream.body?.cancel();
    // The held calls were counted, not refused: they finish as created requests.
    held[0]?.finish();
    expect(await held[0]?.status).toBe(201);
    expect((await get("/api/v1/requests")).status).toBe(200);
    for (const call of held.slice(1)) call.finish();
    expect(await Promise.all(held.map((call) => call.status))).toEqual([201, 201, 201]);
  } finally {
    await app.close();
    await tracker.close();
  }
});
