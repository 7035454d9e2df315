import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp as buildRealApp } from "../../src/server/app.js";
import { buildApp } from "../support/app.js";
import { silentLogger } from "../support/helpers.js";
import { ResponseChecker } from "../support/openapi-check.js";

describe("the OpenAPI answer check of the server suites", () => {
  let tracker: Tracker;
  let app: FastifyInstance;

  beforeEach(async () => {
    tracker = await createTracker({
      storage: ":memory:",
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    app = await buildRealApp({ tracker, logger: false });
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
    await tracker.close();
  });

  it("checks against the document the server serves", async () => {
    const served = (await app.inject({ method: "GET", url: "/docs/json" })).json();
    expect(served).toEqual(JSON.parse(JSON.stringify(app.swagger())));
  });

  it("declares the error statuses of every operation", async () => {
    interface Operation {
      parameters?: { in: string }[];
      requestBody?: unknown;
      security?: unknown[];
      responses: Record<string, { $ref?: string }>;
    }
    const doc = app.swagger() as unknown as {
      security?: unknown[];
      paths: Record<string, Record<string, Operation>>;
    };
    const missing: string[] = [];
    let operations = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        operations++;
        const expected = new Set(["500", "503"]);
        // Every /api/v1 call needs a key once keys exist.
        if ((operation.security ?? doc.security ?? []).length > 0) expected.add("401");
        if ((operation.parameters ?? []).length > 0 || operation.requestBody) expected.add("400");
        if (["post", "put", "patch", "delete"].includes(method)) {
          for (const status of ["400", "413", "415"]) expected.add(status);
        }
        if (/\{(id|jobId)\}/.test(path)) expected.add("404");
        for (const status of expected) {
          const answer = operation.responses[status];
          if (!answer) missing.push(`${method.toUpperCase()} ${path} ${status}`);
          else
            expect(answer.$ref, `${method} ${path} ${status}`).toMatch(
              /^#\/components\/responses\//,
            );
        }
      }
    }
    expect(operations).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });

  it("refuses an undeclared status, a wrong body and an undeclared media type", async () => {
    const checker = new ResponseChecker(app.swagger() as never);
    const json = "application/json; charset=utf-8";
    expect(checker.check("GET", "/api/v1/queue/depth", 418, json, "{}")).toMatch(/not declared/);
    expect(
      checker.check("GET", "/api/v1/queue/depth", 200, json, '{"high":1,"normal":0,"low":0}'),
    ).toMatch(/total/);
    expect(checker.check("GET", "/api/v1/queue/depth", 200, "text/html", "<p>")).toMatch(
      /content-type text\/html/,
    );
    expect(
      checker.check(
        "GET",
        "/api/v1/requests/:id",
        404,
        json,
        '{"code":"RT_ERR_NOPE","message":""}',
      ),
    ).toMatch(/\/code/);
    expect(
      checker.check(
        "GET",
        "/api/v1/queue/depth",
        200,
        json,
        '{"high":1,"normal":0,"low":0,"total":1}',
      ),
    ).toBeNull();
    expect(checker.describes("GET", "/healthz")).toBe(false);
  });

  it("fails the test app's close when an answer does not match", async () => {
    const checked = await buildApp({ tracker, logger: false });
    // A route the document describes, answering what it does not declare.
    checked.addHook("preHandler", async (request, reply) => {
      if (request.routeOptions.url === "/api/v1/queue/depth") reply.status(202);
    });
    expect((await checked.inject({ method: "GET", url: "/api/v1/queue/depth" })).statusCode).toBe(
      202,
    );
    await expect(checked.close()).rejects.toThrow(/GET \/api\/v1\/queue\/depth 202: status 202/);
  });
});
