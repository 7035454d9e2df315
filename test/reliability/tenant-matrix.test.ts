import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { routeTable } from "../../src/server/route-table.js";
import { captureLogger } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

/** The ids a case addresses: another tenant's (B's), or ids that were never seen. */
interface Ids {
  request: string;
  running: string;
  budget: string;
  /** A bulk replay job confined to the tenant. */
  job: string;
}
interface Call {
  url: string;
  body?: unknown;
}
/**
 * How a route is probed across tenants. `byId`: A's keys on B's ids must answer exactly what
 * they answer for ids never seen (ids masked), so nothing confirms B's data exists. `scoped`:
 * A's keys asking for tenant B must get what they get for a tenant that does not exist.
 * `conflict`: a taken id is a coded 409 that reveals nothing. `elsewhere`: tested by name.
 */
type Probe =
  | { kind: "byId"; call: (ids: Ids) => Call }
  | { kind: "scoped"; call: (tenant: string) => Call; creates?: boolean }
  | { kind: "conflict"; call: (ids: Ids) => Call }
  | { kind: "elsewhere"; why: string };

const R = "/api/v1/requests";
const byId = (call: (ids: Ids) => Call): Probe => ({ kind: "byId", call });
const scoped = (call: (tenant: string) => Call, creates = false): Probe => ({
  kind: "scoped",
  call,
  creates,
});

/** Every API route has a probe: a route added without one fails the first test below. */
const PROBES: Record<string, Probe> = {
  "POST /api/v1/requests": {
    kind: "conflict",
    call: (ids) => ({ url: R, body: { id: ids.request, userId: "attacker" } }),
  },
  "GET /api/v1/requests": scoped((t) => ({ url: `${R}?tenantId=${t}` })),
  "GET /api/v1/requests/:id": byId((ids) => ({ url: `${R}/${ids.request}` })),
  "DELETE /api/v1/requests/:id": byId((ids) => ({ url: `${R}/${ids.request}` })),
  "POST /api/v1/requests/:id/transitions": byId((ids) => ({
    url: `${R}/${ids.request}/transitions`,
    body: { to: "running", workerId: "w" },
  })),
  "POST /api/v1/requests/:id/stages/:name/:action": byId((ids) => ({
    url: `${R}/${ids.running}/stages/render/start`,
  })),
  "GET /api/v1/requests/:id/events": byId((ids) => ({ url: `${R}/${ids.request}/events` })),
  "POST /api/v1/requests/:id/events": byId((ids) => ({
    url: `${R}/${ids.request}/events`,
    body: { type: "note" },
  })),
  "POST /api/v1/requests/:id/costs": byId((ids) => ({
    url: `${R}/${ids.request}/costs`,
    body: { service: "openai", amountUsd: 1000 },
  })),
  "POST /api/v1/queue/claim": scoped(() => ({
    url: "/api/v1/queue/claim",
    body: { workerId: "w" },
  })),
  "POST /api/v1/queue/:id/heartbeat": byId((ids) => ({
    url: `/api/v1/queue/${ids.running}/heartbeat`,
    body: { workerId: "w" },
  })),
  "GET /api/v1/queue/depth": scoped((t) => ({ url: `/api/v1/queue/depth?tenantId=${t}` })),
  "POST /api/v1/ingest": byId((ids) => ({
    url: "/api/v1/ingest",
    body: {
      ops: [
        { opId: `e-${ids.request}`, type: "event", requestId: ids.request, event: { type: "x" } },
        {
          opId: `k-${ids.running}`,
          type: "cost",
          requestId: ids.running,
          cost: { service: "s", amountUsd: 1000 },
        },
        { opId: `t-${ids.running}`, type: "transition", requestId: ids.running, to: "cancelled" },
      ],
    },
  })),
  "GET /api/v1/stream": {
    kind: "elsewhere",
    why: "a stream never ends: test/server/stream.test.ts 'confines the stream to the key's tenant'",
  },
  "POST /api/v1/stream/token": {
    kind: "elsewhere",
    why: "a token names no tenant's data: test/server/stream-token.test.ts binds it to the key's tenant",
  },
  "GET /api/v1/stats/overview": scoped((t) => ({ url: `/api/v1/stats/overview?tenantId=${t}` })),
  "GET /api/v1/stats/timeseries": scoped((t) => ({
    url: `/api/v1/stats/timeseries?hours=2&tenantId=${t}`,
  })),
  "GET /api/v1/stats/groups/:by/:value": scoped((t) => ({
    url: `/api/v1/stats/groups/tenantId/${t}`,
  })),
  "GET /api/v1/stats/stages": scoped((t) => ({ url: `/api/v1/stats/stages?tenantId=${t}` })),
  "GET /api/v1/costs/report": scoped((t) => ({ url: `/api/v1/costs/report?tenantId=${t}` })),
  "GET /api/v1/breakers": scoped((t) => ({ url: `/api/v1/breakers?tenantId=${t}` })),
  "POST /api/v1/budgets": scoped(
    (t) => ({ url: "/api/v1/budgets", body: { tenantId: t, period: "day", amountUsd: 1 } }),
    true,
  ),
  "GET /api/v1/budgets": scoped((t) => ({ url: `/api/v1/budgets?tenantId=${t}` })),
  "GET /api/v1/budgets/:id": byId((ids) => ({ url: `/api/v1/budgets/${ids.budget}` })),
  "GET /api/v1/budgets/:id/status": byId((ids) => ({
    url: `/api/v1/budgets/${ids.budget}/status`,
  })),
  "PATCH /api/v1/budgets/:id": byId((ids) => ({
    url: `/api/v1/budgets/${ids.budget}`,
    body: { amountUsd: 999 },
  })),
  "DELETE /api/v1/budgets/:id": byId((ids) => ({ url: `/api/v1/budgets/${ids.budget}` })),
  "GET /api/v1/budgets/:id/burndown": byId((ids) => ({
    url: `/api/v1/budgets/${ids.budget}/burndown`,
  })),
  "GET /api/v1/queue/status": scoped((t) => ({ url: `/api/v1/queue/status?tenantId=${t}` })),
  "GET /api/v1/whoami": scoped(() => ({ url: "/api/v1/whoami" })),
  "GET /api/v1/costs/by-request": scoped((t) => ({
    url: `/api/v1/costs/by-request?tenantId=${t}`,
  })),
  "GET /api/v1/alerts": scoped((t) => ({ url: `/api/v1/alerts?tenantId=${t}` })),
  "POST /api/v1/requests/:id/replay": byId((ids) => ({
    url: `${R}/${ids.request}/replay`,
    body: {},
  })),
  "GET /api/v1/requests/:id/replays": byId((ids) => ({ url: `${R}/${ids.request}/replays` })),
  "GET /api/v1/requests/:id/compare/:otherId": byId((ids) => ({
    url: `${R}/${ids.request}/compare/${ids.running}`,
  })),
  "POST /api/v1/replays": scoped(
    (t) => ({ url: "/api/v1/replays", body: { filter: { tenantId: t, status: "pending" } } }),
    true,
  ),
  "GET /api/v1/replays": scoped(() => ({ url: "/api/v1/replays" })),
  "GET /api/v1/replays/:jobId": byId((ids) => ({ url: `/api/v1/replays/${ids.job}` })),
  "POST /api/v1/replays/:jobId/resume": byId((ids) => ({
    url: `/api/v1/replays/${ids.job}/resume`,
  })),
  "GET /api/v1/prices": scoped(() => ({ url: "/api/v1/prices" })),
  "POST /api/v1/prices": scoped(
    () => ({ url: "/api/v1/prices", body: { service: "s", model: "m", unitUsd: 1 } }),
    true,
  ),
  "DELETE /api/v1/prices/:id": scoped(() => ({ url: "/api/v1/prices/price_x" })),
};

const NEVER: Ids = {
  request: "req_never_seen_0",
  running: "req_never_seen_1",
  budget: "bud_never",
  job: "rjob_never",
};
const mask = (text: string, ids: Ids) =>
  text
    .replaceAll(ids.request, "<request>")
    .replaceAll(ids.running, "<running>")
    .replaceAll(ids.budget, "<budget>")
    .replaceAll(ids.job, "<job>");
/** Fields that differ between two calls a moment apart, whoever makes them. */
const stable = (text: string) =>
  text.replace(
    /"(id|at|start|ageMs|createdAt|updatedAt|generatedAt|now|asOf|to|from)":("[^"]*"|\d+)/g,
    "",
  );

/**
 * A 404 names what the caller asked for: a value from the URL it called, and only a route
 * under /requests/:id or /queue/:id calls it a request (a stats group or budget once answered "Request B
 * not found"). Returns the complaint, or null when the answer is not a 404 or says it right.
 */
function misnamedNotFound(route: string, call: Call, status: number, body: string): string | null {
  if (status !== 404) return null;
  const message = String((JSON.parse(body) as { message?: unknown }).message);
  const asked = new URL(call.url, "http://x").pathname.split("/").filter(Boolean);
  const askedTenant = new URL(call.url, "http://x").searchParams.get("tenantId");
  const named = [...asked, ...(askedTenant ? [askedTenant] : [])].filter((part) =>
    message.includes(part),
  );
  if (named.length === 0) return `404 names nothing that was asked: ${message}`;
  const aboutRequests = route.startsWith(`${R}/:id`) || route.startsWith("/api/v1/queue/:id");
  if (!aboutRequests && /\brequest\b/i.test(message)) return `404 names a request: ${message}`;
  return null;
}

describeEachStorage("tenant x role x endpoint matrix", (storage) => {
  let tracker: Tracker;
  let app: FastifyInstance;
  const keys: Record<"viewerA" | "writerA" | "admin" | "writerB", string> = {
    viewerA: "",
    writerA: "",
    admin: "",
    writerB: "",
  };

  beforeAll(async () => {
    tracker = await createTracker({
      ...(await storage.fresh()),
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    keys.viewerA = (await tracker.keys.create({ role: "viewer", tenantId: "A" })).key;
    keys.writerA = (await tracker.keys.create({ role: "writer", tenantId: "A" })).key;
    keys.writerB = (await tracker.keys.create({ role: "writer", tenantId: "B" })).key;
    keys.admin = (await tracker.keys.create({ role: "admin" })).key;
    app = await buildApp({ tracker, logger: false, shedding: false });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await tracker?.close();
  });

  /** B's data, recognisable by its markers wherever it would show. */
  async function fixtureOfB(): Promise<Ids> {
    const input = { userId: "user-of-B", tenantId: "B", input: { prompt: "secret-of-B" } };
    const pending = await tracker.createRequest(input);
    const running = await tracker.createRequest(input);
    await tracker.startRequest(running, "w");
    await tracker.startStage(running, "stage-of-B");
    await tracker.recordCost(running, { service: "svc-of-B", amountUsd: 7.77 });
    const budget = await tracker.budgets.create({ tenantId: "B", period: "day", amountUsd: 10 });
    // A bulk replay that picked nothing: a job of B's that changes nothing when resumed.
    const job = await tracker.replays.start({ tenantId: "B", kind: "none-of-B" });
    return { request: pending.id, running: running.id, budget: budget.id, job: job.id };
  }

  /** Everything of B's, as the library (which no key confines) reads it. */
  async function rowsOfB(ids: Ids): Promise<string> {
    return JSON.stringify([
      await tracker.getRequest(ids.request),
      await tracker.getRequest(ids.running),
      await tracker.getEvents(ids.request),
      await tracker.getEvents(ids.running),
      await tracker.budgets.list({ tenantId: "B" }),
      (await tracker.listRequests({ tenantId: "B" })).total,
    ]);
  }

  const send = (method: string, call: Call, key: string) =>
    app.inject({
      method: method as "GET",
      url: call.url,
      headers: { authorization: `Bearer ${key}` },
      ...(call.body === undefined ? {} : { payload: call.body as object }),
    });

  const apiRoutes = () =>
    routeTable(app).filter((r) => r.method !== "HEAD" && r.role !== undefined);

  it("walks the registered route table: every API route has a probe", () => {
    const routes = apiRoutes().map((r) => `${r.method} ${r.url}`);
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((r) => !(r in PROBES))).toEqual([]);
  });

  it("A's viewer and writer keys on B's ids and tenant: 404 as for unknown ids, nothing of B shown or changed", async () => {
    const leaks: string[] = [];
    let cases = 0;
    for (const route of apiRoutes()) {
      const name = `${route.method} ${route.url}`;
      const probe = PROBES[name] as Probe;
      if (probe.kind === "elsewhere") continue;
      for (const caller of ["viewerA", "writerA"] as const) {
        const ids = await fixtureOfB();
        const before = await rowsOfB(ids);
        const where = `${name} as ${caller}`;
        cases += 1;
        if (probe.kind === "byId") {
          const foreign = await send(route.method, probe.call(ids), keys[caller]);
          const unknown = await send(route.method, probe.call(NEVER), keys[caller]);
          if (foreign.statusCode !== unknown.statusCode) {
            leaks.push(`${where}: ${foreign.statusCode}, unknown ids ${unknown.statusCode}`);
          } else if (mask(foreign.body, ids) !== mask(unknown.body, NEVER)) {
            leaks.push(`${where}: body differs from an unknown id's: ${foreign.body}`);
          }
          const misnamed = misnamedNotFound(
            route.url,
            probe.call(ids),
            foreign.statusCode,
            foreign.body,
          );
          if (misnamed) leaks.push(`${where}: ${misnamed}`);
          if (foreign.statusCode === 403 && route.role === "viewer") {
            leaks.push(`${where}: 403 on a route the key's role may call`);
          }
        } else if (probe.kind === "conflict") {
          const foreign = await send(route.method, probe.call(ids), keys[caller]);
          const expected = caller === "viewerA" ? "RT_ERR_FORBIDDEN" : "RT_ERR_ID_CONFLICT";
          if (foreign.json().code !== expected) leaks.push(`${where}: ${foreign.body}`);
        } else {
          const asked = await send(route.method, probe.call("B"), keys[caller]);
          const misnamed = misnamedNotFound(
            route.url,
            probe.call("B"),
            asked.statusCode,
            asked.body,
          );
          if (misnamed) leaks.push(`${where}: ${misnamed}`);
          if (!probe.creates) {
            const none = await send(route.method, probe.call("Z"), keys[caller]);
            const tenantless = (text: string, t: string) =>
              stable(text).replace(new RegExp(`\\b${t}\\b`, "g"), "<tenant>");
            if (tenantless(asked.body, "B") !== tenantless(none.body, "Z")) {
              leaks.push(`${where}: tenant B answers ${asked.body}, tenant Z ${none.body}`);
            }
          }
        }
        if ((await rowsOfB(ids)) !== before) leaks.push(`${where}: changed B's rows`);
      }
    }
    console.log(
      `[reliability] tenant matrix ${storage.name}: cases=${cases} leaks=${leaks.length}`,
    );
    expect(leaks).toEqual([]);
    expect(cases).toBeGreaterThan(40);
  });

  it("a group or budget of another tenant is a 404 that names what was asked, not a request", async () => {
    const ids = await fixtureOfB();
    const group = await send("GET", { url: "/api/v1/stats/groups/tenantId/B" }, keys.viewerA);
    expect(group.statusCode).toBe(404);
    expect(group.json()).toEqual({
      code: "RT_ERR_NOT_FOUND",
      message: "Statistics group B not found",
      field: "value",
    });
    const budget = await send("GET", { url: `/api/v1/budgets/${ids.budget}` }, keys.viewerA);
    expect(budget.json()).toEqual({
      code: "RT_ERR_NOT_FOUND",
      message: `Budget ${ids.budget} not found`,
      field: "id",
    });
  });

  it("B's own writer reaches every probed id (so the probes address real data)", async () => {
    const misses: string[] = [];
    for (const route of apiRoutes()) {
      const probe = PROBES[`${route.method} ${route.url}`] as Probe;
      if (probe.kind !== "byId") continue;
      const ids = await fixtureOfB();
      const response = await send(route.method, probe.call(ids), keys.writerB);
      const failed = response.statusCode >= 300 || /"code":"RT_ERR_/.test(response.body);
      if (failed) misses.push(`${route.method} ${route.url}: ${response.body}`);
    }
    expect(misses).toEqual([]);
  });
});
