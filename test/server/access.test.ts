import * as http from "node:http";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger } from "../support/helpers.js";

type Role = "admin" | "writer" | "viewer";
type Caller = "none" | "bad" | "revoked" | "admin" | "writerA" | "viewerA" | "writerB";

interface Endpoint {
  name: string;
  method: "GET" | "POST" | "DELETE";
  /** Builds the URL for a request of `tenant` (a fresh one for writes). */
  url: (id: string, tenant: string) => string;
  /** A stream that never ends: checked over a real connection, by its status line. */
  live?: boolean;
  body?: unknown;
  role: Role;
  /** Whether the endpoint addresses one request (404 across tenants). */
  perRequest: boolean;
  /** Whether the request must be running first (claims, heartbeats, stage changes). */
  running?: boolean;
  ok: number;
}

const ENDPOINTS: Endpoint[] = [
  {
    name: "list requests",
    method: "GET",
    url: () => "/api/v1/requests",
    role: "viewer",
    perRequest: false,
    ok: 200,
  },
  {
    name: "get request",
    method: "GET",
    url: (id) => `/api/v1/requests/${id}`,
    role: "viewer",
    perRequest: true,
    ok: 200,
  },
  {
    name: "get events",
    method: "GET",
    url: (id) => `/api/v1/requests/${id}/events`,
    role: "viewer",
    perRequest: true,
    ok: 200,
  },
  {
    name: "create request",
    method: "POST",
    url: () => "/api/v1/requests",
    body: { userId: "u" },
    role: "writer",
    perRequest: false,
    ok: 201,
  },
  {
    name: "transition",
    method: "POST",
    url: (id) => `/api/v1/requests/${id}/transitions`,
    body: { to: "running", workerId: "w" },
    role: "writer",
    perRequest: true,
    ok: 200,
  },
  {
    name: "start stage",
    method: "POST",
    url: (id) => `/api/v1/requests/${id}/stages/render/start`,
    role: "writer",
    perRequest: true,
    running: true,
    ok: 204,
  },
  {
    name: "log event",
    method: "POST",
    url: (id) => `/api/v1/requests/${id}/events`,
    body: { type: "note" },
    role: "writer",
    perRequest: true,
    ok: 201,
  },
  {
    name: "record cost",
    method: "POST",
    url: (id) => `/api/v1/requests/${id}/costs`,
    body: { service: "openai", amountUsd: 0.01 },
    role: "writer",
    perRequest: true,
    ok: 201,
  },
  {
    name: "heartbeat",
    method: "POST",
    url: (id) => `/api/v1/queue/${id}/heartbeat`,
    body: { workerId: "w" },
    role: "writer",
    perRequest: true,
    running: true,
    ok: 200,
  },
  {
    name: "delete",
    method: "DELETE",
    url: (id) => `/api/v1/requests/${id}`,
    role: "writer",
    perRequest: true,
    ok: 204,
  },
  {
    name: "claim",
    method: "POST",
    url: () => "/api/v1/queue/claim",
    body: { workerId: "w" },
    role: "writer",
    perRequest: false,
    ok: 200,
  },
  {
    name: "queue depth",
    method: "GET",
    url: () => "/api/v1/queue/depth",
    role: "viewer",
    perRequest: false,
    ok: 200,
  },
  {
    name: "ingest",
    method: "POST",
    url: () => "/api/v1/ingest",
    body: { ops: [] },
    role: "writer",
    perRequest: false,
    ok: 200,
  },
  {
    name: "stream",
    method: "GET",
    url: () => "/api/v1/stream",
    role: "viewer",
    perRequest: false,
    ok: 200,
    live: true,
  },
  {
    name: "stats overview",
    method: "GET",
    url: () => "/api/v1/stats/overview?window=24h",
    role: "viewer",
    perRequest: false,
    ok: 200,
  },
  {
    name: "stats timeseries",
    method: "GET",
    url: () => "/api/v1/stats/timeseries?hours=2",
    role: "viewer",
    perRequest: false,
    ok: 200,
  },
  {
    name: "stats stages",
    method: "GET",
    url: () => "/api/v1/stats/stages",
    role: "viewer",
    perRequest: false,
    ok: 200,
  },
  {
    name: "tenant group stats",
    method: "GET",
    url: (_id, tenant) => `/api/v1/stats/groups/tenantId/${tenant}`,
    role: "viewer",
    perRequest: true,
    ok: 200,
  },
  {
    name: "cost report",
    method: "GET",
    url: () => "/api/v1/costs/report",
    role: "viewer",
    perRequest: false,
    ok: 200,
  },
  {
    name: "breakers",
    method: "GET",
    url: () => "/api/v1/breakers",
    role: "viewer",
    perRequest: false,
    ok: 200,
  },
];

/** The status of a streaming answer, read from its head over a real connection. */
function statusOf(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers }, (response) => {
      resolve(response.statusCode ?? 0);
      request.destroy();
    });
    request.on("error", reject);
  });
}

const RANK: Record<Role, number> = { viewer: 0, writer: 1, admin: 2 };
const CALLERS: Record<
  Exclude<Caller, "none" | "bad" | "revoked">,
  { role: Role; tenant: string | null }
> = {
  admin: { role: "admin", tenant: null },
  writerA: { role: "writer", tenant: "A" },
  viewerA: { role: "viewer", tenant: "A" },
  writerB: { role: "writer", tenant: "B" },
};

describe("access: role x tenant x endpoint", () => {
  let tracker: Tracker;
  let app: FastifyInstance;
  let base = "";
  const secrets = {} as Record<Caller, string | null>;

  beforeAll(async () => {
    tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    for (const [name, spec] of Object.entries(CALLERS)) {
      secrets[name as Caller] = (
        await tracker.keys.create({ role: spec.role, tenantId: spec.tenant })
      ).key;
    }
    const revoked = await tracker.keys.create({ role: "admin" });
    await tracker.keys.revoke(revoked.id);
    secrets.revoked = revoked.key;
    secrets.none = null;
    secrets.bad = "rt_not-a-real-key-000000000000000000";
    app = await buildApp({ tracker, logger: false });
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
    await tracker.close();
  });

  const fresh = async (tenant: string, running: boolean) => {
    const req = await tracker.createRequest({ userId: "u", tenantId: tenant });
    if (running) await tracker.startRequest(req, "w");
    return req.id;
  };

  const expected = (caller: Caller, endpoint: Endpoint, target: string): number => {
    if (caller === "none" || caller === "bad" || caller === "revoked") return 401;
    const spec = CALLERS[caller];
    if (RANK[spec.role] < RANK[endpoint.role]) return 403;
    if (endpoint.perRequest && spec.tenant !== null && spec.tenant !== target) return 404;
    return endpoint.ok;
  };

  const cases = ENDPOINTS.flatMap((endpoint) =>
    (["none", "bad", "revoked", "admin", "writerA", "viewerA", "writerB"] as Caller[]).flatMap(
      (caller) =>
        (endpoint.perRequest ? ["A", "B"] : ["A"]).map((target) => ({ endpoint, caller, target })),
    ),
  );

  it.each(cases.map((c) => [c.endpoint.name, c.caller, c.target, c] as const))(
    "%s as %s on a tenant-%s request",
    async (_name, caller, target, { endpoint }) => {
      const id = await fresh(target, endpoint.running ?? false);
      const secret = secrets[caller];
      const want = expected(caller, endpoint, target);
      if (endpoint.live) {
        const status = await statusOf(
          `${base}${endpoint.url(id, target)}`,
          secret ? { authorization: `Bearer ${secret}` } : {},
        );
        expect(status).toBe(want);
        return;
      }
      const response = await app.inject({
        method: endpoint.method,
        url: endpoint.url(id, target),
        ...(endpoint.body !== undefined ? { payload: endpoint.body as object } : {}),
        headers: secret ? { authorization: `Bearer ${secret}` } : {},
      });
      expect(response.statusCode, response.body).toBe(want);
      if (want >= 400) {
        expect(response.json()).toMatchObject({
          code: expect.stringMatching(/^RT_ERR_/),
          message: expect.any(String),
        });
      }
      if (want === 404) expect(response.body).not.toContain("tenant");
    },
  );

  it("confines lists, queue claims and creations to the key's tenant whatever the query asks", async () => {
    const b = await fresh("B", false);
    await fresh("A", false);
    await tracker.recordCost(await fresh("A", true), { service: "openai", amountUsd: 0.25 });
    await tracker.recordCost(await fresh("B", true), { service: "openai", amountUsd: 0.5 });
    const auth = (caller: Caller) => ({ authorization: `Bearer ${secrets[caller]}` });
    const list = await app.inject({
      url: "/api/v1/requests?tenantId=B&limit=1000",
      headers: auth("viewerA"),
    });
    const items = list.json().items as { tenantId: string }[];
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((r) => r.tenantId === "A")).toBe(true);
    const everything = await app.inject({
      url: "/api/v1/requests?limit=1000",
      headers: auth("admin"),
    });
    expect(everything.json().items.some((r: { id: string }) => r.id === b)).toBe(true);

    const created = await app.inject({
      method: "POST",
      url: "/api/v1/requests",
      payload: { userId: "u" },
      headers: auth("writerA"),
    });
    expect(created.json().tenantId).toBe("A");
    const smuggled = await app.inject({
      method: "POST",
      url: "/api/v1/requests",
      payload: { userId: "u", tenantId: "B" },
      headers: auth("writerA"),
    });
    expect(smuggled.statusCode).toBe(403);

    for (;;) {
      const claim = await app.inject({
        method: "POST",
        url: "/api/v1/queue/claim",
        payload: { workerId: "wa" },
        headers: auth("writerA"),
      });
      const claimed = claim.json().request as { tenantId: string } | null;
      if (!claimed) break;
      expect(claimed.tenantId).toBe("A");
    }
    expect((await tracker.getRequest(b))?.status).toBe("pending");

    const overview = await app.inject({
      url: "/api/v1/stats/overview?tenantId=B",
      headers: auth("viewerA"),
    });
    const countA = (await tracker.listRequests({ tenantId: "A", includeDeleted: true, limit: 0 }))
      .total;
    expect(overview.json().total).toBe(countA);
    const report = await app.inject({
      url: "/api/v1/costs/report?tenantId=B",
      headers: auth("viewerA"),
    });
    const tenants = (report.json().byTenant as { tenantId: string }[]).map((t) => t.tenantId);
    expect(tenants).toEqual(["A"]);
    const byUser = await app.inject({
      url: "/api/v1/stats/groups/userId/u",
      headers: auth("viewerA"),
    });
    expect(byUser.statusCode).toBe(403);
    const ingest = await app.inject({
      method: "POST",
      url: "/api/v1/ingest",
      headers: auth("writerA"),
      payload: {
        ops: [
          { opId: "1", type: "event", requestId: b, event: { type: "note" } },
          { opId: "2", type: "create", request: { userId: "u", id: "req_ingested_a" } },
          { opId: "3", type: "create", request: { userId: "u", tenantId: "B" } },
        ],
      },
    });
    expect(
      ingest
        .json()
        .results.map((r: { ok: boolean; error?: { code: string } }) => r.error?.code ?? "ok"),
    ).toEqual(["RT_ERR_NOT_FOUND", "ok", "RT_ERR_FORBIDDEN"]);
    expect((await tracker.getRequest("req_ingested_a"))?.tenantId).toBe("A");
  });
});
