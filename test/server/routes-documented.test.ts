import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../../src/server/app.js";
import { silentLogger } from "../support/helpers.js";
import { openApiPath } from "../support/openapi-check.js";
import { registeredRoutes } from "../support/routes.js";

const serverDoc = readFileSync(new URL("../../docs/server.md", import.meta.url), "utf8");

/** `METHOD path` of every row of docs/server.md's endpoint table (a row may list several). */
function documentedRoutes(markdown: string): string[] {
  const section = markdown.slice(markdown.indexOf("## Endpoints"), markdown.indexOf("## Errors"));
  const out: string[] = [];
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 4 || !/^[A-Z]/.test(cells[1] ?? "")) continue;
    const paths = [...(cells[2] ?? "").matchAll(/`(\/[^`]*)`/g)].map((m) => m[1]?.split("?")[0]);
    for (const method of (cells[1] ?? "").split(/,\s*/)) {
      for (const path of paths) out.push(`${method} ${path}`);
    }
  }
  return out;
}

describe("every route the app registers is documented", () => {
  let tracker: Tracker;
  let app: FastifyInstance;

  beforeAll(async () => {
    tracker = await createTracker({
      storage: ":memory:",
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    app = await buildApp({ tracker, logger: false });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await tracker.close();
  });

  it("reads the routes from the router", () => {
    const routes = registeredRoutes(app);
    expect(routes.length).toBeGreaterThan(40);
    for (const route of routes) expect(app.hasRoute(route as never), route.url).toBe(true);
    expect(routes).toContainEqual({
      method: "POST",
      url: "/api/v1/requests/:id/stages/:name/:action",
    });
    expect(routes).toContainEqual({ method: "GET", url: "/healthz" });
  });

  it("lists each in docs/server.md's endpoint table, and nothing else", () => {
    const registered = registeredRoutes(app).map((r) => `${r.method} ${r.url}`);
    const documented = documentedRoutes(serverDoc);
    expect(registered.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !registered.includes(r))).toEqual([]);
  });

  it("describes each /api/v1 route in the OpenAPI document, and only those", () => {
    const doc = app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const described = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const api = registeredRoutes(app)
      .filter((r) => r.url.startsWith("/api/"))
      .map((r) => `${r.method} ${openApiPath(r.url)}`);
    expect(api.filter((r) => !described.includes(r))).toEqual([]);
    expect(described.filter((r) => !api.includes(r))).toEqual([]);
  });
});
