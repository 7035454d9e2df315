import Database from "better-sqlite3";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Sketch } from "../../src/core/sketch.js";
import { createTracker, SqliteStore, type Tracker } from "../../src/index.js";
import { captureLogger, fakeClock, silentLogger, tempDir } from "../support/helpers.js";
import { apply, DAY, HOUR, NOW, planArb } from "./model.js";

/**
 * Behaviour 5: dashboards read rollups, kept in the write transaction, and the rollups agree
 * with the raw rows. The expected rollups are recomputed here from the rows with plain SQL,
 * whatever path wrote them: the public API, claims, the watchdog, outbox replay, hard deletes.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows of several tables, compared whole
type Row = Record<string, any>;

// The levels as docs/analytics.md lists them: [id, grain, keeps tenant, kind, source, parts].
const REQUEST_LEVELS = [
  [1, HOUR, true, false, false, "full"],
  [2, HOUR, false, true, false, "full"],
  [3, 60_000, false, false, false, "full"],
  [4, DAY, true, true, false, "counts"],
  [5, DAY, false, false, true, "counts"],
] as const;

function expectedRequestRollups(db: Database.Database): Map<string, Row> {
  const out = new Map<string, Row>();
  const rows = db
    .prepare(
      `SELECT created_at, coalesce(tenant_id, '') AS tenant, coalesce(kind, '') AS kind,
      coalesce(source, '') AS source, status, duration_ms, queue_ms, cost_micros FROM requests`,
    )
    .all() as Row[];
  const sketches = new Map<string, { latency: Sketch; queue: Sketch }>();
  for (const [level, grain, tenant, kind, source, parts] of REQUEST_LEVELS) {
    for (const r of rows) {
      const keyParts = {
        level,
        tenant: tenant ? r.tenant : "",
        bucket: Math.floor((r.created_at as number) / grain) * grain,
        kind: kind ? r.kind : "",
        source: source ? r.source : "",
      };
      const key = JSON.stringify(keyParts);
      const row = out.get(key) ?? {
        ...keyParts,
        requests: 0,
        pending: 0,
        running: 0,
        completed: 0,
        failed: 0,
        timeout: 0,
        cancelled: 0,
        duration_sum: 0,
        queue_count: 0,
        queue_sum: 0,
        cost_micros: 0,
      };
      (row.requests as number)++;
      row.cost_micros = (row.cost_micros as number) + (r.cost_micros as number);
      (row[r.status as string] as number)++;
      if (r.status === "completed") {
        row.duration_sum = (row.duration_sum as number) + (r.duration_ms as number);
      }
      if (parts === "full") {
        const s = sketches.get(key) ?? { latency: new Sketch(), queue: new Sketch() };
        sketches.set(key, s);
        if (r.status === "completed") s.latency.add(r.duration_ms as number);
        if (r.queue_ms !== null) {
          (row.queue_count as number)++;
          row.queue_sum = (row.queue_sum as number) + (r.queue_ms as number);
          s.queue.add(r.queue_ms as number);
        }
      }
      out.set(key, row);
    }
  }
  for (const [key, row] of out) {
    row.latency = sketches.get(key)?.latency.toBytes() ?? null;
    row.queue = sketches.get(key)?.queue.toBytes() ?? null;
  }
  return out;
}

function actualRows(db: Database.Database, table: string, keys: string[]): Map<string, Row> {
  const out = new Map<string, Row>();
  for (const row of db.prepare(`SELECT * FROM ${table}`).all() as Row[]) {
    const empty = Object.entries(row).every(([column, value]) =>
      keys.includes(column) ? true : value === 0 || value === null,
    );
    if (empty) continue; // emptied by a hard delete
    out.set(JSON.stringify(Object.fromEntries(keys.map((k) => [k, row[k]]))), row);
  }
  return out;
}

function expectRollupsMatchRows(db: Database.Database): void {
  const requestKeys = ["level", "tenant", "bucket", "kind", "source"];
  const actual = actualRows(db, "rollup_requests", requestKeys);
  const expected = expectedRequestRollups(db);
  expect(new Map([...actual].map(([k, v]) => [k, normalize(v)]))).toEqual(
    new Map([...expected].map(([k, v]) => [k, normalize(v)])),
  );

  const stages = db
    .prepare(
      `SELECT coalesce(r.tenant_id, '') AS tenant, (r.created_at / ${HOUR}) * ${HOUR} AS bucket,
      coalesce(r.kind, '') AS kind, s.name AS stage, s.status, s.duration_ms
      FROM stages s JOIN requests r ON r.id = s.request_id
      WHERE s.status IN ('completed', 'failed')`,
    )
    .all() as Row[];
  const expectedStages = new Map<string, Row & { sketch: Sketch }>();
  for (const level of [1, 2]) {
    for (const s of stages) {
      const keyParts = {
        level,
        tenant: level === 1 ? s.tenant : "",
        bucket: s.bucket,
        kind: level === 2 ? s.kind : "",
        stage: s.stage,
      };
      const key = JSON.stringify(keyParts);
      const row = expectedStages.get(key) ?? {
        ...keyParts,
        completed: 0,
        failed: 0,
        duration_sum: 0,
        sketch: new Sketch(),
      };
      (row[s.status as string] as number)++;
      row.duration_sum = (row.duration_sum as number) + (s.duration_ms as number);
      row.sketch.add(s.duration_ms as number);
      expectedStages.set(key, row);
    }
  }
  const stageKeys = ["level", "tenant", "bucket", "kind", "stage"];
  expect(
    new Map([...actualRows(db, "rollup_stages", stageKeys)].map(([k, v]) => [k, normalize(v)])),
  ).toEqual(
    new Map(
      [...expectedStages].map(([k, { sketch, ...v }]) => [
        k,
        normalize({ ...v, durations: sketch.toBytes() }),
      ]),
    ),
  );

  const costs = db
    .prepare(
      `SELECT level, tenant, bucket, service, count(*) AS records, sum(amount) AS cost_micros
      FROM (SELECT 4 AS level, coalesce(r.tenant_id, '') AS tenant, c.service,
              (r.created_at / ${DAY}) * ${DAY} AS bucket, c.amount_micros AS amount
            FROM costs c JOIN requests r ON r.id = c.request_id
            UNION ALL
            SELECT 6, '', c.service, (r.created_at / ${DAY}) * ${DAY}, c.amount_micros
            FROM costs c JOIN requests r ON r.id = c.request_id)
      GROUP BY level, tenant, bucket, service`,
    )
    .all() as Row[];
  const costKeys = ["level", "tenant", "bucket", "service"];
  expect(actualRows(db, "rollup_costs", costKeys)).toEqual(
    new Map(
      costs.map((c) => [JSON.stringify(Object.fromEntries(costKeys.map((k) => [k, c[k]]))), c]),
    ),
  );

  const sessions = db
    .prepare(
      `SELECT (created_at / ${DAY}) * ${DAY} AS bucket, coalesce(tenant_id, '') AS tenant,
      session_id AS session, count(*) AS requests, sum(cost_micros) AS cost_micros
      FROM requests WHERE session_id IS NOT NULL GROUP BY 1, 2, 3`,
    )
    .all() as Row[];
  const sessionKeys = ["bucket", "tenant", "session"];
  expect(actualRows(db, "rollup_sessions", sessionKeys)).toEqual(
    new Map(
      sessions.map((s) => [
        JSON.stringify(Object.fromEntries(sessionKeys.map((k) => [k, s[k]]))),
        s,
      ]),
    ),
  );
}

/** Blobs compared as bytes, whatever Buffer subclass SQLite handed back. */
function normalize(row: Row): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [
      k,
      v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v,
    ]),
  );
}

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
            for (const [i, plan] of plans.entries()) await apply(tracker, time, plan, i);
            expectRollupsMatchRows(store.db);

            // Claims, lease expiry, run timeouts and releases: the queue's own write paths.
            time.set(NOW + HOUR);
            const claimed = await tracker.claimNext({ workerId: "w1", leaseMs: 1_000 });
            if (claimed) await tracker.startStage(claimed.id, "render");
            const short = await tracker.createRequest({
              userId: "u9",
              tenantId: "guild-1",
              timeoutMs: 500,
            });
            await tracker.claimNext({ workerId: "w2", leaseMs: 60_000 });
            const released = await tracker.claimNext({ workerId: "w3", leaseMs: 60_000 });
            if (released) await tracker.releaseRequest(released.id, "w3");
            time.set(NOW + HOUR + 5_000);
            await tracker.sweep();
            expect(await tracker.getRequest(short.id)).toBeTruthy();
            expectRollupsMatchRows(store.db);

            // Hard delete (retention/cleanup) takes requests, stages and costs out again.
            await tracker.cleanup({ olderThan: NOW - 10 * DAY });
            expectRollupsMatchRows(store.db);
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
    expectRollupsMatchRows(store.db);
    // Replaying the same ops again changes nothing (they are deduplicated by op id).
    await tracker.replayOutbox();
    expectRollupsMatchRows(store.db);
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

    // Back to before migration 10: no rollup tables or their indexes.
    const raw = new Database(path);
    raw.exec(`DROP TABLE rollup_requests; DROP TABLE rollup_stages; DROP TABLE rollup_costs;
      DROP TABLE rollup_sessions; DROP TABLE rollup_state; DROP INDEX requests_source;
      DROP INDEX requests_user_history;
      DELETE FROM schema_migrations WHERE version IN (10, 11);`);
    raw.close();

    const store = new SqliteStore(path);
    expectRollupsMatchRows(store.db);
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

  it("are what dashboards read: request rows only for live counts, through indexes", async () => {
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
    // Live counts (running, pending per lane) and the top prompts of one group.
    for (const sql of readsRows) {
      const plan = store.db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1], "x"])))
        .map((step) => (step as { detail: string }).detail)
        .join("; ");
      expect(plan, sql).toMatch(/SEARCH requests USING (COVERING )?INDEX/);
      expect(plan, sql).not.toMatch(/SCAN requests/);
    }
    for (const sql of readsRows) {
      expect(sql).toMatch(/status = 'running'|status = 'pending'|AS prompt/);
    }
    expect(statements.some((sql) => sql.includes("FROM rollup_requests"))).toBe(true);
    await tracker.close();
  });
});
