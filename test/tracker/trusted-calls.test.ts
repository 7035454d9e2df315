import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.js";
import { createTracker } from "../../src/index.js";
import { reqtrack } from "../../src/integrations/fastify.js";
import { OpBuilder, type TrustedCreateInput } from "../../src/tracker/op-builder.js";
import { resolveOptions } from "../../src/tracker/options.js";
import { beginTrustedCall, trustedCallsOf } from "../../src/tracker/trusted-calls.js";
import { captureLogger, LEVEL, silentLogger } from "../support/helpers.js";

const builder = new OpBuilder(
  resolveOptions({ storage: ":memory:", timeouts: { chat: 12_345 }, defaultMaxAttempts: 4 }),
);
const origin = { opId: "op-1", at: Date.UTC(2026, 0, 15) };

const base: TrustedCreateInput = {
  id: "req_0193b2c4-1d2e-7f00-8a00-000000000001",
  userId: "anonymous",
  kind: "ping",
  tenantId: undefined,
  sessionId: undefined,
  source: "http",
  correlationId: "0193b2c41d2e7f008a00000000000001",
  input: { method: "GET", route: "/api/ping" },
};

/** The error `fn` throws, as `{ field, message }`, or null. */
function thrown(fn: () => unknown): { field: string; message: string } | null {
  try {
    fn();
    return null;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return { field: error.field, message: error.message };
  }
}

describe("trusted middleware ops", () => {
  it.each([
    ["the middleware's defaults", base],
    ["a tenant, a session and a user", { ...base, tenantId: "t-1", sessionId: "s 1", userId: "u" }],
    ["a kind with its own timeout", { ...base, kind: "chat" }],
    ["a route the table does not know", { ...base, input: { method: "POST", route: null } }],
    ["values at their length limits", { ...base, tenantId: "x".repeat(256), id: "a".repeat(128) }],
  ])("builds the same create op as the validated path: %s", (_name, input) => {
    expect(builder.createTrusted(input, origin)).toEqual(builder.create(input, origin));
  });

  it.each([
    ["a NUL in the tenant", { ...base, tenantId: "a\u0000b" }],
    ["an empty session", { ...base, sessionId: "" }],
    ["an over-long user", { ...base, userId: "u".repeat(257) }],
    ["a kind outside the name rule", { ...base, kind: "no spaces allowed" }],
    ["an id outside the id rule", { ...base, id: "-starts-with-a-dash" }],
    ["an over-long correlation id", { ...base, correlationId: "c".repeat(129) }],
  ])("refuses %s with the validated path's error", (_name, input) => {
    const expected = thrown(() => builder.create(input, origin));
    expect(expected).not.toBeNull();
    expect(thrown(() => builder.createTrusted(input, origin))).toEqual(expected);
  });

  it("builds the same start and completion as the validated transitions", () => {
    const outcome = { statusCode: 204, route: "/api/ping", processingMs: 1.25 };
    expect(builder.startTrusted(base.id, origin)).toEqual(
      builder.transition(base.id, "running", {}, origin),
    );
    expect(builder.completeTrusted(base.id, outcome, origin)).toEqual(
      builder.transition(base.id, "completed", { result: outcome }, origin),
    );
    const bad = { ...outcome, processingMs: Number.NaN };
    expect(thrown(() => builder.completeTrusted(base.id, bad, origin))).toEqual(
      thrown(() => builder.transition(base.id, "completed", { result: bad }, origin)),
    );
  });

  it("a tracker offers the trusted entry points; a plain object does not", async () => {
    const tracker = await createTracker({ storage: ":memory:", logger: silentLogger() });
    expect(trustedCallsOf(tracker)).toBe(tracker);
    expect(trustedCallsOf({ createRequest() {} })).toBeNull();
    await tracker.close();
  });

  it("a refused input rejects the begin (no throw) and stores nothing", async () => {
    const tracker = await createTracker({ storage: ":memory:", logger: silentLogger() });
    const begin = tracker[beginTrustedCall]({ ...base, tenantId: "a\u0000b" });
    await expect(begin).rejects.toMatchObject({ field: "tenantId" });
    await tracker.flush();
    expect(await tracker.getRequest(base.id)).toBeNull();
    await tracker.close();
  });

  it("the middleware stores a tracked call exactly as through the public methods", async () => {
    const tracker = await createTracker({
      storage: ":memory:",
      logger: silentLogger(),
      watchdogIntervalMs: 0,
      timeouts: { ping: 9_000 },
      clock: () => origin.at, // every time field the same on both paths
    });
    const app = Fastify();
    await app.register(reqtrack, {
      tracker,
      routes: { "GET /api/ping": "ping" },
      tenant: { header: "x-tenant" },
    });
    app.get("/api/ping", async () => ({ pong: true }));
    const response = await app.inject({ url: "/api/ping", headers: { "x-tenant": "t-9" } });
    const id = response.headers["x-request-id"] as string;
    const publicId = "req_public-path-0001";
    const r = await tracker.createRequest({
      id: publicId,
      userId: "anonymous",
      kind: "ping",
      tenantId: "t-9",
      source: "http",
      correlationId: "c-1",
      input: { method: "GET", route: "/api/ping" },
    });
    await tracker.startRequest(r);
    await tracker.completeRequest(r, { statusCode: 200, route: "/api/ping", processingMs: 1 });
    const [viaMiddleware, viaPublic] = await Promise.all([
      tracker.getRequest(id),
      tracker.getRequest(publicId),
    ]);
    const comparable = (x: typeof viaMiddleware) => {
      const { id: _i, correlationId: _c, ...rest } = x as NonNullable<typeof x>;
      const result = rest.result as { processingMs: number };
      return { ...rest, result: { ...result, processingMs: 0 } };
    };
    expect(viaMiddleware).toMatchObject({ status: "completed", tenantId: "t-9", timeoutMs: 9_000 });
    expect(comparable(viaMiddleware)).toEqual(comparable(viaPublic));
    await app.close();
    await tracker.close();
  });

  it("a value an extractor function returns that the schema refuses is logged, and the app still answers", async () => {
    const { logger, lines } = captureLogger("warn");
    const tracker = await createTracker({
      storage: ":memory:",
      logger,
      watchdogIntervalMs: 0,
    });
    const app = Fastify();
    await app.register(reqtrack, { tracker, tenant: () => "bad\u0000tenant" });
    app.get("/api/ping", async () => ({ pong: true }));
    const response = await app.inject({ url: "/api/ping" });
    expect(response.statusCode).toBe(200);
    await tracker.flush();
    const id = response.headers["x-request-id"] as string;
    expect(await tracker.getRequest(id)).toBeNull();
    expect(lines.some((l) => l.level === LEVEL.warn && l.msg === "request tracking failed")).toBe(
      true,
    );
    await app.close();
    await tracker.close();
  });
});
