import { existsSync } from "node:fs";
import { join } from "node:path";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { closestName, editDistance } from "../../src/core/option-check.js";
import { createTracker, type Tracker, ValidationError } from "../../src/index.js";
import { reqtrack as expressTracking } from "../../src/integrations/express.js";
import { reqtrack as fastifyTracking } from "../../src/integrations/fastify.js";
import { reqtrack as honoTracking } from "../../src/integrations/hono.js";
import { buildApp } from "../../src/server/app.js";
import { serve } from "../../src/server/serve.js";
import { silentLogger, tempDir } from "../support/helpers.js";

/** The error a call threw (or rejected with), checked to be a ValidationError. */
async function validationError(call: () => unknown): Promise<ValidationError> {
  const error = await Promise.resolve()
    .then(call)
    .then(
      () => null,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe("createTracker rejects unknown and invalid options, naming the closest valid one", () => {
  const temp = tempDir();
  afterAll(() => temp.cleanup());

  it.each([
    ["logLevel", { logLevel: "debug" }, "logLevel", /did you mean "logger"\?.*REQTRACK_LOG_LEVEL/],
    [
      "the typo defaultTimeoutMS",
      { defaultTimeoutMS: 60_000 },
      "defaultTimeoutMS",
      /did you mean "defaultTimeoutMs"\?/,
    ],
    ["maxSize", { maxSize: 1000 }, "maxSize", /did you mean "retentionMaxRequests"\?/],
    [
      "durability: paranoid",
      { durability: "paranoid" },
      "durability",
      /must be one of "normal", "full" \(got "paranoid"\)/,
    ],
    ["durability: Full", { durability: "Full" }, "durability", /did you mean "full"\?/],
    [
      "a nested typo",
      { maxWaitMs: { lo: 10 } },
      "maxWaitMs.lo",
      /not an option of maxWaitMs in createTracker; did you mean "low"\?/,
    ],
    [
      "a postgres typo",
      { storage: "postgres://db/x", postgres: { shema: "x" } },
      "postgres.shema",
      /did you mean "schema"\?/,
    ],
    ["a number as a string", { leaseMs: "30000" }, "leaseMs", /must be a number \(got string\)/],
    ["a clock that is not a function", { clock: 5 }, "clock", /must be a function/],
    ["a logger that is not one", { logger: { log: () => {} } }, "logger", /pino logger/],
  ])("%s", async (_name, options, field, message) => {
    const storage = join(temp.dir, `${field}.db`);
    const error = await validationError(() =>
      createTracker({ storage, logger: silentLogger(), ...(options as object) }),
    );
    expect(error).toMatchObject({ code: "RT_ERR_VALIDATION", field });
    expect(error.message).toMatch(message);
    // Rejected before anything was opened.
    expect(existsSync(storage)).toBe(false);
  });

  it("still takes every documented option", async () => {
    const tracker = await createTracker({
      storage: ":memory:",
      clock: Date.now,
      logger: silentLogger(),
      redactPrompts: true,
      onStoreError: "throw",
      replayIntervalMs: 500,
      budgetIntervalMs: 0,
      defaultTimeoutMs: 60_000,
      timeouts: { video: 600_000 },
      defaultMaxAttempts: 2,
      slowQueryMs: 50,
      busyTimeoutMs: 1000,
      durability: "full",
      leaseMs: 10_000,
      watchdogIntervalMs: 0,
      staleAfterMs: null,
      maxWaitMs: { normal: 1000, low: 2000 },
      retentionDays: null,
      retentionMaxRequests: 100,
      shutdownGraceMs: 0,
    });
    await tracker.close();
  });
});

describe("createClient rejects unknown and invalid options", () => {
  it.each([
    ["logLevel", { logLevel: "warn" }, "logLevel", /did you mean "logger"\?/],
    [
      "requestTimeoutMS",
      { requestTimeoutMS: 1 },
      "requestTimeoutMS",
      /did you mean "requestTimeoutMs"\?/,
    ],
    ["maxSize", { maxSize: 10 }, "maxSize", /did you mean "maxBatchBytes"\?/],
    ["a fetch that is not one", { fetch: "yes" }, "fetch", /must be a function/],
  ])("%s", async (_name, options, field, message) => {
    const error = await validationError(() =>
      createClient({ url: "http://127.0.0.1:1", logger: silentLogger(), ...(options as object) }),
    );
    expect(error).toMatchObject({ field });
    expect(error.message).toMatch(message);
  });
});

describe("the server and the middleware check their options when they are made", () => {
  let tracker: Tracker;
  beforeAll(async () => {
    tracker = await createTracker({ storage: ":memory:", logger: silentLogger() });
  });
  afterAll(() => tracker.close());

  it("buildApp and serve reject unknown options with the closest name", async () => {
    const app = await validationError(() => buildApp({ tracker, maxSize: 10 } as never));
    expect(app).toMatchObject({ field: "maxSize" });
    expect(app.message).toMatch(/not an option of buildApp; did you mean "bodyLimit"\?/);
    const keepAlive = await validationError(() => buildApp({ tracker, keepAliveMS: 10 } as never));
    expect(keepAlive.message).toMatch(/did you mean "keepAliveMs"\?/);
    const shed = await validationError(() =>
      buildApp({ tracker, shedding: { maxEventLoopDelay: 5 } } as never),
    );
    expect(shed.message).toMatch(
      /shedding.maxEventLoopDelay: .*did you mean "maxEventLoopDelayMs"\?/,
    );
    const served = await validationError(() => serve({ tracker, hostname: "0.0.0.0" } as never));
    expect(served.message).toMatch(/not an option of serve; did you mean "host"\?/);
    const port = await validationError(() => serve({ tracker, port: 70_000 }));
    expect(port).toMatchObject({ field: "port" });
    const missing = await validationError(() => buildApp({} as never));
    expect(missing.message).toMatch(/tracker: must be a Tracker from createTracker\(\)/);
  });

  it.each([
    ["express", expressTracking as (t: unknown, o?: unknown) => unknown],
    ["hono", honoTracking as (t: unknown, o?: unknown) => unknown],
  ])(
    "%s: reqtrack({ tracker }) throws when the middleware is made, showing the right call",
    async (_name, factory) => {
      const wrong = await validationError(() => factory({ tracker }));
      expect(wrong).toMatchObject({ field: "tracker" });
      expect(wrong.message).toMatch(
        /takes the tracker as its first argument.*reqtrack\(tracker, \{/,
      );
      const none = await validationError(() => factory(undefined));
      expect(none.message).toMatch(/needs a Tracker from createTracker\(\) \(got undefined\)/);
      const typo = await validationError(() => factory(tracker, { route: {} }));
      expect(typo).toMatchObject({ field: "route" });
      expect(typo.message).toMatch(/did you mean "routes"\?/);
      const extractor = await validationError(() => factory(tracker, { tenant: { params: "id" } }));
      expect(extractor.message).toMatch(/tenant.params: .*did you mean "param"\?/);
      expect(() =>
        factory(tracker, { routes: { "GET /api/x": "x" }, tenant: () => "t" }),
      ).not.toThrow();
    },
  );

  it("fastify: registering without a tracker or with a typo fails at register, not in a request", async () => {
    const bare = Fastify();
    const missing = await validationError(() =>
      bare.register(fastifyTracking, {} as never).ready(),
    );
    expect(missing.message).toMatch(
      /needs the tracker in its options: app.register\(reqtrack, \{ tracker/,
    );
    await bare.close();
    const typo = Fastify();
    const error = await validationError(() =>
      typo.register(fastifyTracking, { tracker, defaultkind: "x" } as never).ready(),
    );
    expect(error.message).toMatch(/did you mean "defaultKind"\?/);
    await typo.close();
    const called = await validationError(() =>
      (fastifyTracking as unknown as (t: unknown) => unknown)(tracker),
    );
    expect(called.message).toMatch(/register it with app.register\(reqtrack/);
    // Fastify's own register options ride along without complaint.
    const right = Fastify();
    await right.register(fastifyTracking, { tracker, prefix: "/x", logLevel: "warn" } as never);
    await right.ready();
    await right.close();
  });
});

describe("closestName", () => {
  it("prefers a case-only difference, then the fewest edits", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(closestName("defaultTimeoutMS", ["defaultMaxAttempts", "defaultTimeoutMs"])).toBe(
      "defaultTimeoutMs",
    );
    expect(closestName("leasMs", ["leaseMs", "slowQueryMs"])).toBe("leaseMs");
    expect(closestName("zzz", ["normal", "full"], 2)).toBeUndefined();
  });
});
