import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../../src/server/app.js";
import { captureLogger } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

const MIN = 60_000;

describeEachStorage("GET /api/v1/queue/status and /whoami", (storage) => {
  let tracker: Tracker;
  let app: FastifyInstance;
  /** The tracker's time is the real time shifted by `offset`: leases end where the test says. */
  let offset = 0;

  beforeEach(async () => {
    offset = 0;
    tracker = await createTracker({
      ...(await storage.fresh()),
      clock: () => Date.now() + offset,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    app = await buildApp({ tracker, logger: false, open: false });
  });
  afterEach(async () => {
    await app.close();
    await tracker.close();
  });

  const get = async (url: string, key: string) => {
    const response = await app.inject({ url, headers: { authorization: `Bearer ${key}` } });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  };

  /** Creates a request `agoMs` in the past and, when `leaseMs` is given, claims it then. */
  const seed = async (tenantId: string, agoMs: number, leaseMs?: number) => {
    offset = -agoMs;
    const created = await tracker.createRequest({ userId: "u", tenantId, kind: "job" });
    if (leaseMs !== undefined) {
      const claimed = await tracker.claimNext({ workerId: `w-${tenantId}`, leaseMs });
      expect(claimed?.id).toBe(created.id);
    }
    offset = 0;
    return created.id;
  };

  it("reports the oldest pending request, running per worker and leases by expiry", async () => {
    const admin = (await tracker.keys.create({ role: "admin" })).key;
    const soon = await seed("a", 0, 10_000);
    const expired = await seed("a", 10 * MIN, MIN);
    await seed("b", 0, 3_600_000);
    const oldest = await seed("b", 5 * MIN);
    await seed("a", 2 * MIN);
    await seed("a", 0);

    const { status, body } = await get("/api/v1/queue/status", admin);
    expect(status).toBe(200);
    expect(body.pending).toBe(3);
    expect(body.running).toBe(3);
    expect(body.oldestPending).toMatchObject({ id: oldest });
    const ageMs = (body.oldestPending as { ageMs: number }).ageMs;
    expect(ageMs).toBeGreaterThanOrEqual(5 * MIN);
    expect(ageMs).toBeLessThan(6 * MIN);
    expect(body.runningByWorker).toEqual([
      { workerId: "w-a", running: 2 },
      { workerId: "w-b", running: 1 },
    ]);
    expect((body.leasesExpiringSoon as { id: string }[]).map((l) => l.id)).toEqual([soon]);
    expect((body.expiredLeases as { id: string }[]).map((l) => l.id)).toEqual([expired]);
  });

  it("lists stale running requests: no heartbeat for a minute, or past their timeout", async () => {
    const admin = (await tracker.keys.create({ role: "admin" })).key;
    const start = async (agoMs: number, timeoutMs?: number) => {
      offset = -agoMs;
      const r = await tracker.createRequest({ userId: "u", tenantId: "a", timeoutMs });
      await tracker.startRequest(r.id, "w-manual");
      offset = 0;
      return r.id;
    };
    const silent = await start(3 * MIN);
    const overdue = await start(2 * MIN, 30_000);
    await start(10_000);
    await seed("a", 2 * MIN, 30 * MIN); // leased: its heartbeats vouch for it
    const { body } = await get("/api/v1/queue/status", admin);
    const stale = body.staleRunning as { id: string; reason: string; workerId: string }[];
    expect(stale.map((s) => [s.id, s.reason]).sort()).toEqual(
      [
        [silent, "no_heartbeat"],
        [overdue, "past_timeout"],
      ].sort(),
    );
    expect(stale.every((s) => s.workerId === "w-manual")).toBe(true);
  });

  it("confines a tenant key to its tenant, whatever it asks for", async () => {
    const keyA = (await tracker.keys.create({ role: "viewer", tenantId: "a" })).key;
    await seed("b", 0, 60_000);
    await seed("a", MIN);
    const oldestB = await seed("b", 9 * MIN);

    for (const url of ["/api/v1/queue/status", "/api/v1/queue/status?tenantId=b"]) {
      const { body } = await get(url, keyA);
      expect(body.pending).toBe(1);
      expect((body.oldestPending as { id: string }).id).not.toBe(oldestB);
      expect(body.running).toBe(0);
    }
  });

  it("answers an empty queue with nulls and empty lists", async () => {
    const key = (await tracker.keys.create({ role: "admin" })).key;
    const { body } = await get("/api/v1/queue/status", key);
    expect(body).toMatchObject({
      pending: 0,
      oldestPending: null,
      running: 0,
      runningByWorker: [],
      leasesExpiringSoon: [],
      expiredLeases: [],
    });
  });

  it("refuses an unknown query field and a missing key", async () => {
    const key = (await tracker.keys.create({ role: "admin" })).key;
    const bad = await get("/api/v1/queue/status?lane=high", key);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("RT_ERR_VALIDATION");
    expect((await app.inject({ url: "/api/v1/queue/status" })).statusCode).toBe(401);
  });

  it("whoami tells a key's role and tenant, and refuses a wrong key", async () => {
    const created = await tracker.keys.create({ role: "writer", tenantId: "a" });
    const { status, body } = await get("/api/v1/whoami", created.key);
    expect(status).toBe(200);
    expect(body).toEqual({
      keyId: created.id,
      role: "writer",
      tenantId: "a",
      features: ["replay", "compare"],
    });
    const wrong = await get("/api/v1/whoami", "rt_wrong-key-0000000000000000000000");
    expect(wrong.status).toBe(401);
  });
});
