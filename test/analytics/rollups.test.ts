import Database from "better-sqlite3";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker, SqliteStore, type Tracker } from "../../src/index.js";
import { captureLogger, fakeClock, silentLogger, tempDir } from "../support/helpers.js";
import { apply, NOW, planArb } from "./model.js";
import {
  expectRollupsMatchRows,
  type Row,
  sqliteRollupDb,
  writeThroughEveryPath,
} from "./rollup-check.js";

/**
 * Behaviour 5 on SQLite (rollups-postgres.test.ts has PostgreSQL's): dashboards read rollups,
 * kept in the write transaction, and the rollups agree with the raw rows. The expected rollups
 * are recomputed from the rows with plain SQL (rollup-check.ts), whatever path wrote them: the
 * public API, claims, the watchdog, outbox replay, hard deletes.
 */
describe("rollups", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  it("agree with the raw rows after random workloads through every write path", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(planArb, { minLength: 1, maxLength: 40, size: "max" }),
        async (plans) => {
          const time = fakeClock(NOW);
          const store = new SqliteStore(":memory:");
          const tracker = await createTracker({
            storage: store,
            clock: time.clock,
            logger: silentLogger(),
            watchdogIntervalMs: 0,
          });
          try {
            await writeThroughEveryPath(tracker, time, plans, () =>
              expectRollupsMatchRows(sqliteRollupDb(store.db)),
            );
          } finally {
            await tracker.close();
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it("change in the same transaction as the rows: another connection never sees one without the other", async () => {
    const path = dir.file("tx.db");
    const tracker = await createTracker({
      storage: path,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    const observer = new Database(path, { readonly: true });
    const snapshot = observer.prepare(`SELECT
      (SELECT count(*) FROM requests) AS rows,
      (SELECT coalesce(sum(requests), 0) FROM rollup_requests WHERE level = 3) AS rolled,
      (SELECT count(*) FROM requests WHERE status = 'completed') AS completedRows,
      (SELECT coalesce(sum(completed), 0) FROM rollup_requests WHERE level = 2) AS completedRolled`);
    const seen: Row[] = [];
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const req = await tracker.createRequest({ userId: `u${i % 7}`, kind: "k" });
        seen.push(snapshot.get() as Row);
        await tracker.startRequest(req);
        await tracker.completeRequest(req);
        seen.push(snapshot.get() as Row);
      }),
    );
    expect(seen.length).toBe(400);
    for (const s of seen) {
      expect(s.rolled).toBe(s.rows);
      expect(s.completedRolled).toBe(s.completedRows);
    }
    observer.close();
    await tracker.close();
  });

  it("stay untouched by a batch that could not commit, and catch up when the outbox replays", async () => {
    const path = dir.file("degraded.db");
    const store = new SqliteStore(path, { busyTimeoutMs: 50 });
    const tracker = await createTracker({
      storage: store,
      outboxPath: dir.file("outbox.ndjson"),
      logger: captureLogger().logger,
      watchdogIntervalMs: 0,
      replayIntervalMs: 60_000,
    });
    const first = await tracker.createRequest({ userId: "u", tenantId: "t", sessionId: "s" });
    await tracker.startRequest(first);
    const before = store.db.prepare("SELECT * FROM rollup_requests ORDER BY level, bucket").all();

    const locker = new Database(path);
    locker.exec("BEGIN IMMEDIATE");
    const second = await tracker.createRequest({ userId: "u", tenantId: "t", sessionId: "s" });
    await tracker.recordCost(first, { service: "openai", amountUsd: 0.25 });
    await tracker.completeRequest(first);
    expect(tracker.degraded).toBe(true);
    expect(store.db.prepare("SELECT * FROM rollup_requests ORDER BY level, bucket").all()).toEqual(
      before,
    );
    locker.exec("ROLLBACK");
    locker.close();

    expect(await tracker.replayOutbox()).toBe(true);
    expect(await tracker.getRequest(second.id)).toBeTruthy();
    await expectRollupsMatchRows(sqliteRollupDb(store.db));
    // Replaying the same ops again changes nothing (they are deduplicated by op id).
    await tracker.replayOutbox();
    await expectRollupsMatchRows(sqliteRollupDb(store.db));
    await tracker.close();
  });

  it("are filled from existing rows when a database from before the rollups is opened", async () => {
    const path = dir.file("old.db");
    const time = fakeClock(NOW);
    let tracker: Tracker = await createTracker({
      storage: path,
      clock: time.clock,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    const plans = fc.sample(planArb, { numRuns: 60, seed: 42 });
    for (const [i, plan] of plans.entries()) await apply(tracker, time, plan, i);
    const figures = await tracker.stats.overview({ window: "30d" });
    const report = await tracker.costs.report();
    await tracker.close();

    // Back to before migration 10: no rollup tables or their indexes (nor the session
    // totals of migration 21, which are kept from rollup_sessions).
    const raw = new Database(path);
    raw.exec(`DROP TABLE rollup_requests; DROP TABLE rollup_stages; DROP TABLE rollup_costs;
      DROP TABLE rollup_sessions; DROP TABLE rollup_state; DROP INDEX requests_source;
      DROP INDEX IF EXISTS requests_user_history; DROP TABLE rollup_session_totals;
      DROP TABLE rollup_session_days;
      DELETE FROM schema_migrations WHERE version IN (10, 11, 21, 26);`);
    raw.close();

    const store = new SqliteStore(path);
    await expectRollupsMatchRows(sqliteRollupDb(store.db));
    tracker = await createTracker({
      storage: store,
      clock: time.clock,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    expect(await tracker.stats.overview({ window: "30d" })).toEqual(figures);
    expect(await tracker.costs.report()).toEqual(report);
    await tracker.close();
  });

  it("are what dashboards read: request rows only for live counts, prompts and window edges, through indexes", async () => {
    const store = new SqliteStore(":memory:");
    const statements: string[] = [];
    const prepare = store.db.prepare.bind(store.db);
    store.db.prepare = ((sql: string) => {
      statements.push(sql);
      return prepare(sql);
    }) as typeof store.db.prepare;
    const tracker = await createTracker({
      storage: store,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    await tracker.stats.overview({ window: "24h" });
    await tracker.stats.overview({ window: "7d", tenantId: "t" });
    await tracker.stats.timeseries({ hours: 24 });
    await tracker.stats.timeseries({ hours: 24, bucket: "minute" });
    await tracker.stats.group({ by: "tenantId", value: "t" });
    await tracker.stats.group({ by: "kind", value: "k" });
    await tracker.stats.stages({ window: "24h" });
    await tracker.costs.report();
    await tracker.costs.report({ tenantId: "t" });
    const readsRows = statements.filter((sql) => /FROM requests\b/.test(sql));
    // Live counts (running, pending per lane), the top prompts of one group, and the edges of
    // rolling windows that no rollup bucket fits (under a minute at each end without a
    // tenant; within the edge hours of one tenant's window).
    for (const sql of readsRows) {
      const plan = store.db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1], "x"])))
        .map((step) => (step as { detail: string }).detail)
        .join("; ");
      expect(plan, sql).toMatch(/SEARCH (requests|r) USING (COVERING )?INDEX/);
      expect(plan, sql).not.toMatch(/SCAN (requests|r)\b/);
    }
    for (const sql of readsRows) {
      expect(sql).toMatch(/status = 'running'|status = 'pending'|AS prompt|created_at < @to/);
    }
    expect(statements.some((sql) => sql.includes("FROM rollup_requests"))).toBe(true);
    await tracker.close();
  });
});
