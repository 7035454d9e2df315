import { describe, expect, it } from "vitest";
import { createTracker, currentRequestId } from "../../src/index.js";
import { HttpTracking } from "../../src/integrations/http-core.js";
import { RouteMatcher } from "../../src/integrations/route-table.js";
import { captureLogger } from "../support/helpers.js";
import { SEED_004_ROUTES } from "./http-suite.js";

const headers =
  (values: Record<string, string> = {}) =>
  (name: string) =>
    values[name];

describe("route table", () => {
  const routes = new RouteMatcher(SEED_004_ROUTES);

  it.each([
    ["POST", "/api/entities", "entity_create", "/api/entities", {}],
    [
      "GET",
      "/api/entities/company_123",
      "entity_read",
      "/api/entities/:entityId",
      { entityId: "company_123" },
    ],
    [
      "DELETE",
      "/api/entities/c1/files/doc%207",
      "file_delete",
      "/api/entities/:entityId/files/:docId",
      { entityId: "c1", docId: "doc 7" },
    ],
    ["POST", "/api/chat/sessions", "chat_session_create", "/api/chat/sessions", {}],
    ["GET", "/api/knowledge-graph/", "knowledge_graph", "/api/knowledge-graph", {}],
  ])("matches %s %s by path as %s", (method, path, kind, route, params) => {
    expect(routes.resolve(method, path, null)).toEqual({ kind, route, params });
  });

  it("misses a known path under another method, and an unknown path", () => {
    expect(routes.resolve("PUT", "/api/entities", null).kind).toBeNull();
    expect(routes.resolve("GET", "/api/entities/a/b/c", null)).toEqual({
      kind: null,
      route: null,
      params: {},
    });
  });

  it("prefers the framework's own pattern, and falls back to the path for the kind", () => {
    expect(routes.resolve("GET", "/api/entities/e1", "/api/entities/:entityId")).toEqual({
      kind: "entity_read",
      route: "/api/entities/:entityId",
      params: { entityId: "e1" },
    });
    expect(routes.resolve("GET", "/api/entities/e1", "/api/entities/:id")).toEqual({
      kind: "entity_read",
      route: "/api/entities/:id",
      params: { id: "e1" },
    });
  });

  it("takes keys without a method for every method, and a trailing * for the rest", () => {
    const table = new RouteMatcher({ "/api/files/*": "file_access", "* /api/any": "any" });
    expect(table.resolve("PUT", "/api/files/a/b.txt", null)).toEqual({
      kind: "file_access",
      route: "/api/files/*",
      params: { "*": "a/b.txt" },
    });
    expect(table.resolve("PATCH", "/api/any", null).kind).toBe("any");
  });
});

describe("HttpTracking (the framework-neutral core)", () => {
  async function setup(options: ConstructorParameters<typeof HttpTracking>[1] = {}) {
    const { logger, lines } = captureLogger();
    const tracker = await createTracker({ storage: ":memory:", logger, watchdogIntervalMs: 0 });
    return { tracker, lines, core: new HttpTracking(tracker, options) };
  }

  it("cancels the request when the client goes away, and records one outcome only", async () => {
    const { tracker, core } = await setup();
    const call = core.begin({ method: "get", path: "/api/slow?x=1", header: headers() });
    expect(call).not.toBeNull();
    call?.abort();
    call?.end(200);
    await tracker.flush();
    expect(await tracker.getRequest(call!.id)).toMatchObject({
      status: "cancelled",
      errorMessage: "client closed the connection",
      input: { method: "GET", route: null },
    });
    await tracker.close();
  });

  it("takes user, tenant and session from functions or headers, and a custom skip", async () => {
    const { tracker, core } = await setup({
      user: (request) => request.header("x-user-id"),
      tenant: { header: "X-Tenant-ID" },
      session: (request) => request.params.sessionId,
      routes: { "DELETE /v2/sessions/:sessionId": "chat_session_delete" },
      skip: ({ path }) => path.startsWith("/internal"),
      defaultKind: "http_call",
    });
    expect(core.begin({ method: "GET", path: "/internal/x", header: headers() })).toBeNull();
    const call = core.begin({
      method: "DELETE",
      path: "/v2/sessions/s-9",
      header: headers({ "x-user-id": "alice", "x-tenant-id": "org-1" }),
    });
    const other = core.begin({ method: "GET", path: "/v2/elsewhere", header: headers() });
    call?.end(204);
    other?.end(200);
    await tracker.flush();
    expect(await tracker.getRequest(call!.id)).toMatchObject({
      kind: "chat_session_delete",
      userId: "alice",
      tenantId: "org-1",
      sessionId: "s-9",
      status: "completed",
      result: { statusCode: 204, route: "/v2/sessions/:sessionId" },
    });
    expect((await tracker.getRequest(other!.id))?.kind).toBe("http_call");
    await tracker.close();
  });

  it("drops an over-long header value instead of losing the record", async () => {
    const { tracker, core } = await setup({ tenant: { header: "x-tenant-id" } });
    const call = core.begin({
      method: "GET",
      path: "/api/x",
      header: headers({ "x-tenant-id": "t".repeat(300) }),
    });
    call?.end(200);
    await tracker.flush();
    expect(await tracker.getRequest(call!.id)).toMatchObject({
      tenantId: null,
      status: "completed",
    });
    await tracker.close();
  });

  it("runs the handler in the request scope, and logs (once) when tracking writes fail", async () => {
    const { tracker, core, lines } = await setup();
    await tracker.close();
    const call = core.begin({ method: "GET", path: "/api/x", header: headers() });
    expect(call?.run(() => currentRequestId())).toBe(call?.id);
    call?.end(500);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.filter((l) => l.msg === "request tracking failed")).toHaveLength(1);
  });
});
