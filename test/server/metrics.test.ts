import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger } from "../support/helpers.js";
import { lintMetrics } from "./prom-lint.js";

/** Debian's `prometheus` package ships promtool; CI installs it (.ci/run). */
const PROMTOOL = process.env.REQTRACK_PROMTOOL ?? "promtool";
const hasPromtool = spawnSync(PROMTOOL, ["--version"], { stdio: "ignore" }).status === 0;
const required =
  process.env.REQTRACK_REQUIRE_PROMTOOL === "1" || process.env.REQTRACK_REQUIRE_BROWSER === "1";

describe("GET /metrics", () => {
  let tracker: Tracker;
  let text: string;

  beforeAll(async () => {
    tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    const app = await buildApp({ tracker, logger: false });
    // Every family gets samples: requests in each status, a duration, a cost, an HTTP call.
    const done = await tracker.createRequest({ userId: "u", kind: "video_generation" });
    await tracker.startRequest(done.id);
    await tracker.recordCost(done.id, { service: "openai", amountUsd: 0.25 });
    await tracker.completeRequest(done.id);
    await tracker.createRequest({ userId: "u", kind: "chat_message" });
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    const response = await app.inject({ url: "/metrics" });
    expect(response.statusCode).toBe(200);
    text = response.body;
    await app.close();
  });
  afterAll(() => tracker.close());

  it("follows promtool's rules, checked in-process (so it never passes by skipping)", () => {
    expect(text).toMatch(
      /^reqtrack_requests_total\{status="completed",kind="video_generation"\} 1$/m,
    );
    expect(text).toMatch(/^reqtrack_cost_usd_total\{service="openai"\} 0.25$/m);
    expect(text).toMatch(/^reqtrack_process_cpu_seconds_total /m);
    expect(text).toMatch(/^reqtrack_nodejs_active_handles\{/m);
    expect(text).not.toMatch(/reqtrack_process_process_/);
    expect(lintMetrics(text)).toEqual([]);
  });

  it("the in-process check catches what promtool caught before the fix", () => {
    const before = [
      "# HELP reqtrack_process_process_cpu_seconds_total Total user and system CPU time spent in seconds.",
      "# TYPE reqtrack_process_process_cpu_seconds_total counter",
      "reqtrack_process_process_cpu_seconds_total 0.5",
      "# HELP reqtrack_process_nodejs_active_handles_total Total number of active handles.",
      "# TYPE reqtrack_process_nodejs_active_handles_total gauge",
      "reqtrack_process_nodejs_active_handles_total 3",
      "# HELP reqtrack_queue_depth_ms",
      "# TYPE reqtrack_queue_depth_ms counter",
      "reqtrack_queue_depth_ms 1",
    ].join("\n");
    expect(lintMetrics(before)).toEqual([
      "reqtrack_process_process_cpu_seconds_total: repeated word in the name",
      'reqtrack_process_nodejs_active_handles_total: non-counter metrics should not have "_total" suffix',
      "reqtrack_queue_depth_ms: no help text",
      'reqtrack_queue_depth_ms: counter metrics should have "_total" suffix',
      "reqtrack_queue_depth_ms: metric names should not contain abbreviated units",
    ]);
  });

  it.skipIf(!hasPromtool && !required)("passes `promtool check metrics`", () => {
    if (!hasPromtool) {
      throw new Error(
        `REQTRACK_REQUIRE_BROWSER=1 (CI) but no ${PROMTOOL}: apt-get install --no-install-recommends prometheus`,
      );
    }
    const result = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(`${result.stdout}${result.stderr}`.trim()).toBe("");
    expect(result.status).toBe(0);
  });
});

describe("GET /metrics with labelFields", () => {
  it("labels the duration histogram with each configured input field of the finished request", async () => {
    const tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
      labelFields: ["aspect_ratio", "model"],
    });
    try {
      const app = await buildApp({ tracker, logger: false });
      // One field at the top of input, one under input.parameters, one request without them.
      const wide = await tracker.createRequest({
        userId: "u",
        kind: "video_generation",
        input: { prompt: "a cat", aspect_ratio: "16:9", parameters: { model: "veo-3" } },
      });
      await tracker.startRequest(wide.id);
      await tracker.completeRequest(wide.id);
      const bare = await tracker.createRequest({
        userId: "u",
        kind: "video_generation",
        input: { prompt: "x" },
      });
      await tracker.startRequest(bare.id);
      await tracker.failRequest(bare.id, { message: "boom" });
      const text = (await app.inject({ url: "/metrics" })).body;
      await app.close();
      expect(text).toMatch(
        /^reqtrack_request_duration_seconds_count\{status="completed",kind="video_generation",aspect_ratio="16:9",model="veo-3"\} 1$/m,
      );
      expect(text).toMatch(
        /^reqtrack_request_duration_seconds_count\{status="failed",kind="video_generation",aspect_ratio="",model=""\} 1$/m,
      );
      expect(lintMetrics(text)).toEqual([]);
    } finally {
      await tracker.close();
    }
  });
});

if (!hasPromtool && !required) {
  console.warn(
    "promtool tests skipped: no promtool (apt-get install prometheus); the in-process check still ran",
  );
}
