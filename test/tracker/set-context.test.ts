import Database from "better-sqlite3";
import { afterEach, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import type { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import {
  expectRollupsMatchRows,
  postgresRollupDb,
  type RollupDb,
  sqliteRollupDb,
} from "../analytics/rollup-check.js";
import { silentLogger, tempDir } from "../support/helpers.js";
import { describeEachStorage, type StorageOptions, type TestStorage } from "../support/storages.js";

const T0 = Date.UTC(2026, 0, 15, 12);

/** A connection that reads the tracker's rollup tables and rows (closed by `end`). */
async function rollupDbOf(
  tracker: Tracker,
  options: StorageOptions,
): Promise<RollupDb & { end: () => Promise<void> }> {
  if (typeof options.storage === "string" && options.storage.startsWith("postgres")) {
    return postgresRollupDb(options.storage, options.postgres?.schema as string);
  }
  return { ...sqliteRollupDb((tracker.store as SqliteStore).db), end: async () => {} };
}

describeEachStorage("tracker.setContext", (storage: TestStorage) => {
  let tracker: Tracker;
  let db: (RollupDb & { end: () => Promise<void> }) | undefined;
  afterEach(async () => {
    await db?.end();
    await tracker?.close();
  });

  async function open() {
    let now = T0;
    const options = await storage.fresh();
    tracker = await createTracker({
      ...options,
      clock: () => now++,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    db = await rollupDbOf(tracker, options);
    return db;
  }

  it("moves a request's costs, stages and counts to the tenant and session set in the handler", async () => {
    const rollups = await open();
    const other = await tracker.createRequest({ userId: "u", tenantId: "acme" });
    await tracker.recordCost(other, { service: "openai", amountUsd: 1 });
    const req = await tracker.createRequest({ userId: "anonymous", kind: "chat_message" });
    await tracker.startRequest(req, "w1");
    await tracker.trackStage(req, "retrieve", async () => "ok");
    await tracker.recordCost(req, { service: "openai", amountUsd: 0.25 });
    await tracker.setContext(req, { tenantId: "acme", sessionId: "s-1", userId: "ent-1" });
    await tracker.recordCost(req, { service: "embeddings", amountUsd: 0.5 });
    await tracker.completeRequest(req);

    const report = await tracker.costs.report({ from: T0, to: T0 + 86_400_000 });
    expect(report.byTenant).toEqual([{ tenantId: "acme", requests: 2, costUsd: 1.75 }]);
    expect(report.bySession.top).toEqual([{ sessionId: "s-1", requests: 1, costUsd: 0.75 }]);
    expect(await tracker.getRequest(req.id)).toMatchObject({
      tenantId: "acme",
      sessionId: "s-1",
      userId: "ent-1",
    });
    await expectRollupsMatchRows(rollups);
  });

  it("refuses bad input like creation does, and an ended request, writing nothing", async () => {
    await open();
    const req = await tracker.createRequest({ userId: "u", tenantId: "t1" });
    await expect(tracker.setContext(req, { tenantId: "" })).rejects.toMatchObject({
      code: "RT_ERR_VALIDATION",
      field: "tenantId",
    });
    await expect(tracker.setContext(req, { userId: null } as never)).rejects.toMatchObject({
      field: "userId",
    });
    await expect(tracker.setContext(req, {})).rejects.toMatchObject({ field: "context" });
    await expect(tracker.setContext(req, { org: "x" } as never)).rejects.toMatchObject({
      code: "RT_ERR_VALIDATION",
    });
    await tracker.cancelRequest(req);
    await expect(tracker.setContext(req, { tenantId: "t2" })).rejects.toMatchObject({
      code: "RT_ERR_REQUEST_ENDED",
    });
    expect((await tracker.getRequest(req.id))?.tenantId).toBe("t1");
    expect((await tracker.getEvents(req.id)).map((e) => e.type)).not.toContain("context_set");
  });
});

it("replays a setContext from the outbox in order, after the create it follows", async () => {
  const dir = tempDir();
  const path = dir.file("requests.db");
  const tracker = await createTracker({
    storage: path,
    busyTimeoutMs: 50,
    replayIntervalMs: 3_600_000,
    logger: silentLogger(),
    watchdogIntervalMs: 0,
  });
  const blocker = new Database(path);
  try {
    blocker.exec("BEGIN EXCLUSIVE");
    const req = await tracker.createRequest({ userId: "anonymous" });
    await tracker.recordCost(req, { service: "openai", amountUsd: 0.5 });
    await tracker.setContext(req, { tenantId: "acme", sessionId: "s-9" });
    expect(tracker.degraded).toBe(true);
    blocker.exec("COMMIT");
    expect(await tracker.replayOutbox()).toBe(true);
    expect(await tracker.getRequest(req.id)).toMatchObject({
      tenantId: "acme",
      sessionId: "s-9",
      costUsd: 0.5,
    });
    await expectRollupsMatchRows(sqliteRollupDb((tracker.store as SqliteStore).db));
  } finally {
    blocker.close();
    await tracker.close();
    dir.cleanup();
  }
});
