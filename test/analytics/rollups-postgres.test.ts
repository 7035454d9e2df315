import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, expect, it, onTestFinished, vi } from "vitest";
import { createTracker, type Store, type TrackerOptions } from "../../src/index.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { captureLogger, fakeClock, silentLogger, tempDir } from "../support/helpers.js";
import { describePostgres } from "../support/postgres.js";
import { PostgresSchemas } from "../support/storages.js";
import { apply, DAY, HOUR, NOW, planArb } from "./model.js";
import {
  expectRollupsMatchRows,
  postgresRollupDb,
  type RollupDb,
  type Row,
  writeThroughEveryPath,
} from "./rollup-check.js";

/**
 * Behaviour 5 on PostgreSQL (rollups.test.ts has SQLite's): the rollups, kept in the write
 * transaction by postgres-rollups.ts, agree with the raw rows whatever path wrote them. The
 * expected rollups are recomputed from the rows (rollup-check.ts), and each test makes sure
 * the path it is about really ran.
 */
describePostgres(
  "rollups [postgres]",
  (url) => {
    const schemas = new PostgresSchemas(url);
    afterAll(() => schemas.dropAll());

    /**
     * A tracker (closed after the test) on `schema`, by default a fresh one, and a connection to
     * check its rollups. `options.storage` may be a store opened on that schema.
     */
    async function open(options: TrackerOptions = {}, schema?: string) {
      const target = schema ?? (await schemas.fresh()).postgres.schema;
      const time = fakeClock(NOW);
      const tracker = await createTracker({
        ...(typeof options.storage === "object"
          ? {}
          : { storage: url, postgres: { schema: target } }),
        clock: time.clock,
        logger: silentLogger(),
        watchdogIntervalMs: 0,
        ...options,
      });
      const db = await postgresRollupDb(url, target);
      onTestFinished(async () => {
        await tracker.close();
        await db.end();
      });
      return { tracker, time, db, schema: target };
    }

    /** A store on a fresh schema whose `apply(ops, options)` is `replacement(store, ops, options)`. */
    async function storeWithApply(
      replacement: (
        store: Store,
        ...args: Parameters<Store["apply"]>
      ) => ReturnType<Store["apply"]>,
    ): Promise<{ store: Store; schema: string }> {
      const { schema } = (await schemas.fresh()).postgres;
      const store = await PostgresStore.open({ connectionString: url, schema });
      const wrapped = new Proxy(store, {
        get(target, property) {
          if (property === "apply")
            return (...args: Parameters<Store["apply"]>) => replacement(target, ...args);
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? (value as () => unknown).bind(target) : value;
        },
      });
      return { store: wrapped, schema };
    }

    /** Every rollup row, for comparing before and after something that must not change them. */
    async function rollupTables(db: RollupDb): Promise<Row[][]> {
      const rows: Row[][] = [];
      for (const table of ["rollup_requests", "rollup_stages", "rollup_costs", "rollup_sessions"]) {
        rows.push(await db.all(`SELECT * FROM ${table} ORDER BY 1, 2, 3, 4`));
      }
      return rows;
    }

    it("agree with the raw rows after random workloads through every write path", async () => {
      const first = await schemas.emptied();
      const db = await postgresRollupDb(url, first.postgres.schema);
      onTestFinished(() => db.end());
      await fc.assert(
        fc.asyncProperty(
          fc.array(planArb, { minLength: 1, maxLength: 40, size: "max" }),
          async (plans) => {
            const time = fakeClock(NOW);
            const tracker = await createTracker({
              ...(await schemas.emptied()),
              clock: time.clock,
              logger: silentLogger(),
              watchdogIntervalMs: 0,
            });
            try {
              await writeThroughEveryPath(tracker, time, plans, () => expectRollupsMatchRows(db));
            } finally {
              await tracker.close();
            }
          },
        ),
        // ~1 s a run on PostgreSQL; rollups.test.ts runs the same property 15 times on SQLite.
        { numRuns: 6 },
      );
    });

    it("agree through claims, releases, run timeouts, lease requeues and failures, deadlines, stale requests and retention", async () => {
      const { tracker, time, db } = await open({ retentionDays: 30, staleAfterMs: 2 * DAY });
      for (const [i, plan] of fc.sample(planArb, { numRuns: 40, seed: 7 }).entries()) {
        await apply(tracker, time, plan, i);
      }
      const softDeleted = await db.all("SELECT id FROM requests WHERE deleted_at IS NOT NULL");
      expect(softDeleted.length).toBeGreaterThan(0);

      time.set(NOW + HOUR);
      const make = (
        kind: string,
        more: Partial<Parameters<typeof tracker.createRequest>[0]> = {},
      ) =>
        tracker.createRequest({ userId: "w", tenantId: "guild-1", sessionId: "s1", kind, ...more });
      const leased = await make("lease", { maxAttempts: 2 });
      const timed = await make("timed", { timeoutMs: 500 });
      const released = await make("released");
      const late = await make("late", { deadline: NOW + HOUR + 1_000 });
      const claim = async (kind: string, workerId: string, leaseMs: number) =>
        (await tracker.claimNext({ workerId, kinds: [kind], leaseMs }))?.id;
      expect(await claim("lease", "w1", 1_000)).toBe(leased.id);
      await tracker.startStage(leased, "render");
      await tracker.recordCost(leased, { service: "openai", amountUsd: 0.01 });
      expect(await claim("timed", "w2", 60_000)).toBe(timed.id);
      await tracker.startStage(timed, "script");
      expect(await claim("released", "w3", 60_000)).toBe(released.id);
      expect(await tracker.releaseRequest(released, "w3")).toBe(true);
      // A request failed through the API while a stage runs: the stage fails with it.
      const failing = await make("failing");
      await tracker.startRequest(failing);
      await tracker.startStage(failing, "rag");
      time.advance(700);
      await tracker.failRequest(failing, "boom");
      await expectRollupsMatchRows(db);

      time.advance(5_000);
      const sweep = await tracker.sweep();
      expect(sweep.requeued).toBe(1);
      expect(sweep.deadlinesPassed).toBe(1);
      expect(sweep.timedOut).toBeGreaterThanOrEqual(1);
      expect(sweep.stale).toBeGreaterThan(0);
      expect(sweep.retention?.requests).toBeGreaterThan(0);
      const status = async (id: string) => {
        const request = await tracker.getRequest(id);
        return {
          status: request?.status,
          stages: request?.stages.map((s) => `${s.name}:${s.status}`),
        };
      };
      expect(await status(leased.id)).toEqual({ status: "pending", stages: ["render:failed"] });
      expect(await status(timed.id)).toEqual({ status: "timeout", stages: ["script:failed"] });
      expect(await status(released.id)).toEqual({ status: "pending", stages: [] });
      expect(await status(late.id)).toEqual({ status: "timeout", stages: [] });
      expect(await status(failing.id)).toEqual({ status: "failed", stages: ["rag:failed"] });
      // Retention took the old rows; soft-deleted ones it did not reach are still counted.
      const purgedBefore = NOW + HOUR - 30 * DAY;
      expect(await db.all(`SELECT id FROM requests WHERE created_at < ${purgedBefore}`)).toEqual(
        [],
      );
      expect(
        (await db.all("SELECT id FROM requests WHERE deleted_at IS NOT NULL")).length,
      ).toBeGreaterThan(0);
      await expectRollupsMatchRows(db);

      // Its last attempt's lease expires too: failed for good.
      expect(await claim("lease", "w1", 1_000)).toBe(leased.id);
      await tracker.startStage(leased, "render");
      time.advance(5_000);
      expect((await tracker.sweep()).failed).toBe(1);
      expect(await status(leased.id)).toEqual({
        status: "failed",
        stages: ["render:failed", "render:failed"],
      });
      await expectRollupsMatchRows(db);
    });

    it("keep nothing of an op that failed unexpectedly in a batch, and everything of the ops beside it", async () => {
      const batches: number[] = [];
      let corrupt = true;
      const { store, schema } = await storeWithApply((target, ops, options) => {
        batches.push(ops.length);
        // PostgreSQL text cannot hold NUL (validation refuses it, so it is put in here, past
        // validation): the tag's insert throws after the request row (and its rollup deltas)
        // were written, so the batch falls back to a savepoint per op.
        const sent = ops.map((op) =>
          corrupt && op.type === "create" && op.request.id === "broken"
            ? { ...op, request: { ...op.request, tags: ["nul\u0000"] } }
            : op,
        );
        return target.apply(sent, options);
      });
      const { tracker, db } = await open({ storage: store }, schema);
      const request = { userId: "u", tenantId: "t", sessionId: "s", kind: "k" };
      const a = await tracker.createRequest(request);
      await tracker.startRequest(a);
      await tracker.startStage(a, "render");

      batches.length = 0;
      const settled = await Promise.allSettled([
        tracker.createRequest({ ...request, id: "before" }),
        tracker.recordCost(a, { service: "openai", amountUsd: 0.25 }),
        tracker.createRequest({ ...request, id: "broken", tags: ["nul"] }),
        tracker.completeStage(a, "render"),
        tracker.completeRequest(a),
        tracker.createRequest({ ...request, id: "after" }),
      ]);
      expect(batches).toEqual([6]);
      expect(settled.map((s) => s.status)).toEqual([
        "fulfilled",
        "fulfilled",
        "rejected",
        "fulfilled",
        "fulfilled",
        "fulfilled",
      ]);
      expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ code: "22021" });
      expect(await tracker.getRequest("broken")).toBeNull();
      expect(await tracker.getRequest(a)).toMatchObject({ status: "completed", costUsd: 0.25 });
      expect(await db.all("SELECT session, requests FROM rollup_sessions")).toEqual([
        { session: "s", requests: 3 },
      ]);
      await expectRollupsMatchRows(db);

      // The failed op's id was not kept as applied: sent again, fixed, it counts once.
      corrupt = false;
      await tracker.createRequest({ ...request, id: "broken" });
      expect(await db.all("SELECT session, requests FROM rollup_sessions")).toEqual([
        { session: "s", requests: 4 },
      ]);
      await expectRollupsMatchRows(db);
    });

    it("stay untouched by a transaction cut mid-write, and catch up once when the outbox replays", async () => {
      const app = `rt_rollups_${randomBytes(4).toString("hex")}`;
      const dir = tempDir();
      onTestFinished(() => dir.cleanup());
      const { tracker, db, schema } = await open({
        storage: `${url}${url.includes("?") ? "&" : "?"}application_name=${app}`,
        outboxPath: dir.file("outbox.ndjson"),
        replayIntervalMs: 60_000,
        logger: captureLogger("warn").logger,
      });
      const first = await tracker.createRequest({ userId: "u", tenantId: "t", sessionId: "s" });
      await tracker.startRequest(first);
      const before = await rollupTables(db);

      // The batch below writes its rows, then waits for this lock at its first rollup upsert:
      // that is where its connection is cut.
      const locker = await postgresRollupDb(url, schema);
      onTestFinished(() => locker.end());
      await locker.client.query("BEGIN");
      await locker.client.query("LOCK TABLE rollup_requests IN EXCLUSIVE MODE");
      const writes = Promise.all([
        tracker.createRequest({ userId: "u", tenantId: "t", sessionId: "s", id: "second" }),
        tracker.recordCost(first, { service: "openai", amountUsd: 0.25 }),
        tracker.completeRequest(first),
      ]);
      const pid = await vi.waitFor(
        async () => {
          const waiting = await db.all(
            `SELECT pid FROM pg_stat_activity
          WHERE application_name = '${app}' AND wait_event_type = 'Lock'`,
          );
          expect(waiting).toHaveLength(1);
          return waiting[0]?.pid as number;
        },
        { timeout: 10_000, interval: 20 },
      );
      await db.all(`SELECT pg_terminate_backend(${pid})`);
      await writes;
      expect(tracker.degraded).toBe(true);
      expect(await db.all("SELECT id, status FROM requests")).toEqual([
        { id: first.id, status: "running" },
      ]);
      expect(await rollupTables(db)).toEqual(before);
      await locker.client.query("ROLLBACK");

      expect(await tracker.replayOutbox()).toBe(true);
      expect(await tracker.getRequest("second")).toBeTruthy();
      expect(await tracker.getRequest(first)).toMatchObject({ status: "completed", costUsd: 0.25 });
      await expectRollupsMatchRows(db);
    });

    it("count a batch once when its commit landed but the answer was lost and the outbox replays it", async () => {
      let loseAnswers = false;
      const { store, schema } = await storeWithApply(async (target, ops, options) => {
        const results = await target.apply(ops, options);
        // What pg reports when the connection drops after COMMIT was sent.
        if (loseAnswers) throw new Error("Connection terminated unexpectedly");
        return results;
      });
      const { tracker, db } = await open(
        { storage: store, replayIntervalMs: 60_000, logger: captureLogger("warn").logger },
        schema,
      );
      const request = { userId: "u", tenantId: "t", sessionId: "s", kind: "k" };
      const a = await tracker.createRequest(request);
      await tracker.startRequest(a);

      loseAnswers = true;
      await Promise.all([
        tracker.recordCost(a, { service: "openai", amountUsd: 0.5 }),
        tracker.completeRequest(a),
        tracker.createRequest({ ...request, id: "b" }),
      ]);
      expect(tracker.degraded).toBe(true);
      loseAnswers = false;
      expect(await tracker.replayOutbox()).toBe(true);

      expect(await tracker.getRequest(a)).toMatchObject({ status: "completed", costUsd: 0.5 });
      await expectRollupsMatchRows(db);
      const overview = await tracker.stats.overview({ window: "24h" });
      expect(overview).toMatchObject({ total: 2, costUsd: 0.5 });
      expect(overview.countsByStatus).toMatchObject({ completed: 1, pending: 1 });
      expect((await tracker.costs.report()).byService).toEqual([
        { service: "openai", records: 1, costUsd: 0.5 },
      ]);
    });

    /** Takes the schema back to before migration 10: rows, but no rollups. */
    async function dropRollups(db: { client: { query: (sql: string) => Promise<unknown> } }) {
      await db.client.query(`DROP TABLE rollup_requests, rollup_stages, rollup_costs,
      rollup_sessions, rollup_state, rollup_session_totals, rollup_session_days;
      DROP FUNCTION reqtrack_sketch_merge(jsonb, jsonb);
      DROP FUNCTION rollup_session_totals_apply();
      DROP FUNCTION rollup_session_days_apply();
      DROP INDEX requests_source;
      DELETE FROM schema_migrations WHERE version IN (10, 11, 21, 25);`);
    }

    it("are filled from existing rows when a schema from before the rollups is opened", async () => {
      const { tracker, time, db, schema } = await open();
      for (const [i, plan] of fc.sample(planArb, { numRuns: 60, seed: 42 }).entries()) {
        await apply(tracker, time, plan, i);
      }
      const figures = {
        overview: await tracker.stats.overview({ window: "30d" }),
        series: await tracker.stats.timeseries({ hours: 48 }),
        stages: await tracker.stats.stages({ window: "30d" }),
        group: await tracker.stats.group({ by: "tenantId", value: "guild-1" }),
        report: await tracker.costs.report(),
      };
      await tracker.close();
      await dropRollups(db);

      const reopened = await createTracker({
        storage: url,
        postgres: { schema },
        clock: time.clock,
        logger: silentLogger(),
        watchdogIntervalMs: 0,
      });
      onTestFinished(() => reopened.close());
      expect(await db.all("SELECT * FROM rollup_state")).toEqual([]);
      await expectRollupsMatchRows(db);
      expect({
        overview: await reopened.stats.overview({ window: "30d" }),
        series: await reopened.stats.timeseries({ hours: 48 }),
        stages: await reopened.stats.stages({ window: "30d" }),
        group: await reopened.stats.group({ by: "tenantId", value: "guild-1" }),
        report: await reopened.costs.report(),
      }).toEqual(figures);
    });

    it("are rebuilt page by page through more rows than a page holds, ties in createdAt included", async () => {
      const { tracker, time, db, schema } = await open();
      await tracker.close();
      await dropRollups(db);
      // 12,005 requests, ten to a createdAt, in every status, with stages and costs.
      await db.client.query(`
      INSERT INTO requests (id, status, priority, lane, user_id, tenant_id, kind, source,
        session_id, max_attempts, timeout_ms, created_at, updated_at, lane_at, started_at,
        queue_ms, duration_ms, cost_micros)
      SELECT 'bulk_' || lpad(i::text, 6, '0'), status, 0.5, 'normal', 'u', 't' || (i % 3),
        'k' || (i % 2), CASE WHEN i % 4 = 0 THEN 'web' END, 's' || (i % 7), 3, 60000, at, at,
        at, CASE WHEN status <> 'pending' THEN at + i % 1000 END,
        CASE WHEN status <> 'pending' THEN i % 1000 END,
        CASE WHEN status IN ('completed', 'failed', 'timeout') THEN (i * 37) % 100000 END,
        CASE WHEN status <> 'pending' THEN i * 10 ELSE 0 END
      FROM (SELECT i, ${NOW} - (i / 10) * 61000 AS at,
          (ARRAY['pending', 'running', 'completed', 'failed', 'timeout', 'completed'])[1 + i % 6]
            AS status
        FROM generate_series(0, 12004) AS i) AS r;
      INSERT INTO stages (request_id, name, attempt, status, started_at, completed_at,
        duration_ms)
      SELECT id, 'render', 1, CASE WHEN cost_micros % 20 = 0 THEN 'completed' ELSE 'failed' END,
        started_at, started_at + cost_micros % 5000, cost_micros % 5000
      FROM requests WHERE status <> 'pending';
      INSERT INTO costs (request_id, ts, service, amount_micros)
      SELECT id, started_at, 'openai', cost_micros FROM requests WHERE status <> 'pending';`);
      // A page ends among rows that share a createdAt (a page is 5,000 rows).
      const boundary = await db.all(
        "SELECT created_at FROM requests ORDER BY created_at, id OFFSET 4999 LIMIT 2",
      );
      expect(boundary[0]?.created_at).toBe(boundary[1]?.created_at);

      const reopened = await createTracker({
        storage: url,
        postgres: { schema },
        clock: time.clock,
        logger: silentLogger(),
        watchdogIntervalMs: 0,
      });
      onTestFinished(() => reopened.close());
      await expectRollupsMatchRows(db);
      expect(
        await db.all("SELECT sum(requests) AS n FROM rollup_requests WHERE level = 3"),
      ).toEqual([{ n: 12_005 }]);
    });
  },
  // Every commit is a round trip: four times the default time.
  { timeout: 120_000 },
);
