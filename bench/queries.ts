/**
 * Query benchmark (issue 4): seed a SQLite store with 1,000,000 requests through the public
 * API, then time each dashboard query 50 times against the seed-001 limits and our goals,
 * beside raw better-sqlite3 for the same history and count queries (the floor).
 * With `--storage postgres://...` (issue 7): the same on a fresh PostgreSQL schema, against
 * goals twice SQLite's, beside raw `pg`; 200,000 requests unless BENCH_REQUESTS says
 * otherwise (seeding through the public API is slower there).
 *
 *   npm run bench -- queries                        (writes bench/results/queries.json)
 *   BENCH_REQUESTS=50_000 npm run bench -- queries  (a quick check)
 *   npm run bench -- --storage postgres://postgres@127.0.0.1/test queries
 *                                                   (writes bench/results/queries-postgres.json)
 *   BENCH_QUERIES_DB=/tmp/q.db node --import tsx bench/queries.ts   (keeps the seeded file and
 *                                                   reuses it on the next run; SQLite only)
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { createTracker, type Tracker } from "../src/index.js";
import { seedRequests, SEED_NOW, type SeedShape } from "./support/query-seed.js";
import {
  type Benchmark,
  type BenchmarkReport,
  envPositiveInt,
  formatNumber,
  isMain,
  progress,
  type RunOptions,
  runStandalone,
} from "./support/harness.js";
import { withFreshSchema } from "./support/postgres.js";
import { postgresQueryStore, type QueryStore, sqliteQueryStore } from "./support/query-stores.js";

const ROUNDS = 50;
const WARMUP = 3;
/**
 * Seeding through tracker.ingest is several times slower on PostgreSQL than on SQLite (about
 * 1,400 requests/s on the project's 2-core VM: a million takes some 12 minutes), so the
 * default is smaller there; BENCH_REQUESTS=1000000 gives SQLite's scale.
 */
const POSTGRES_DEFAULT_REQUESTS = 200_000;

interface Query {
  name: string;
  goalP99Ms: number | null;
  seedLimitMs: number | null;
  run(): Promise<unknown> | unknown;
}

interface Timing {
  name: string;
  /** Null when the store does not answer the query (`unsupported` says why). */
  p50: number | null;
  p99: number | null;
  goalP99Ms: number | null;
  seedLimitMs: number | null;
  unsupported: string | null;
}

/**
 * The store keeps no analytics rollups (PostgreSQL until they land): the query is reported
 * as not supported instead of failing the run.
 */
function isUnsupported(error: unknown): error is Error {
  return error instanceof Error && /keeps no analytics rollups/.test(error.message);
}

async function time(query: Query): Promise<Timing> {
  try {
    await query.run();
  } catch (error) {
    if (!isUnsupported(error)) throw error;
    return { name: query.name, p50: null, p99: null, ...limits(query), unsupported: error.message };
  }
  for (let i = 1; i < WARMUP; i++) await query.run();
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    await query.run();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const rank = (p: number) => samples[Math.max(1, Math.ceil((p * samples.length) / 100)) - 1] ?? 0;
  return { name: query.name, p50: rank(50), p99: rank(99), ...limits(query), unsupported: null };
}

const limits = (q: Query) => ({ goalP99Ms: q.goalP99Ms, seedLimitMs: q.seedLimitMs });

/** The cursor that opens page `page` (from 1) of a listing. */
async function cursorOf(
  tracker: Tracker,
  filter: { userId: string; status?: "completed" },
  page: number,
): Promise<string> {
  let cursor: string | undefined;
  for (let p = 1; p < page; p++) {
    const result = await tracker.listRequests({
      ...filter,
      limit: 50,
      ...(cursor ? { cursor } : {}),
    });
    if (!result.nextCursor) throw new Error(`the history has fewer than ${page} pages`);
    cursor = result.nextCursor;
  }
  if (cursor === undefined) throw new Error("page must be at least 2");
  return cursor;
}

function trackerQueries(
  tracker: Tracker,
  shape: SeedShape,
  cursors: Record<string, string>,
  lastPage: number,
): Query[] {
  const user = shape.heavyUser;
  const tenant = shape.busiestTenant;
  const history = (status: "completed" | undefined, cursor: string | undefined) => () =>
    tracker.listRequests({
      userId: user,
      limit: 50,
      ...(status ? { status } : {}),
      ...(cursor ? { cursor } : {}),
    });
  const dayMs = 86_400_000;
  const month = { from: SEED_NOW - 29 * dayMs, to: SEED_NOW };
  return [
    {
      name: "user history, page 1",
      goalP99Ms: 2,
      seedLimitMs: 100,
      run: history(undefined, undefined),
    },
    {
      name: `user history, page ${lastPage}`,
      goalP99Ms: 2,
      seedLimitMs: 100,
      run: history(undefined, cursors.all),
    },
    {
      name: "user history, status=completed, page 1",
      goalP99Ms: 2,
      seedLimitMs: 100,
      run: history("completed", undefined),
    },
    {
      name: `user history, status=completed, page ${lastPage}`,
      goalP99Ms: 2,
      seedLimitMs: 100,
      run: history("completed", cursors.completed),
    },
    {
      name: "overview 24 h",
      goalP99Ms: 25,
      seedLimitMs: 500,
      run: () => tracker.stats.overview({ window: "24h" }),
    },
    {
      name: "group stats, one tenant, 30 days, day buckets, top prompts",
      goalP99Ms: 50,
      seedLimitMs: null,
      run: () => tracker.stats.group({ by: "tenantId", value: tenant, bucket: "day", ...month }),
    },
    {
      name: "timeseries 24 h hourly",
      goalP99Ms: 25,
      seedLimitMs: null,
      run: () => tracker.stats.timeseries({ hours: 24, bucket: "hour" }),
    },
    {
      name: "stage breakdown 24 h",
      goalP99Ms: 50,
      seedLimitMs: null,
      run: () => tracker.stats.stages({ window: "24h" }),
    },
    {
      name: "cost report, one tenant, 30 days",
      goalP99Ms: 100,
      seedLimitMs: null,
      run: () => tracker.costs.report({ tenantId: tenant, ...month }),
    },
    {
      name: "cost report, all tenants, 30 days",
      goalP99Ms: 250,
      seedLimitMs: null,
      run: () => tracker.costs.report(month),
    },
    // Beyond the table: the paths a dashboard also takes.
    {
      name: "(extra) overview 24 h, one tenant",
      goalP99Ms: null,
      seedLimitMs: 500,
      run: () => tracker.stats.overview({ window: "24h", tenantId: tenant }),
    },
    {
      name: "(extra) timeseries 24 h by minute",
      goalP99Ms: null,
      seedLimitMs: null,
      run: () => tracker.stats.timeseries({ hours: 24, bucket: "minute" }),
    },
    {
      name: "(extra) group stats, heavy user (rows), 30 days",
      goalP99Ms: null,
      seedLimitMs: null,
      run: () => tracker.stats.group({ by: "userId", value: user, bucket: "week", ...month }),
    },
  ];
}

/** The same history and count queries straight through the driver: the floor. */
function rawQueries(
  store: QueryStore,
  shape: SeedShape,
  cursors: Record<string, string>,
  lastPage: number,
): Query[] {
  const decode = (cursor: string) =>
    JSON.parse(Buffer.from(cursor, "base64url").toString()) as [number, string];
  const page = `SELECT * FROM requests WHERE deleted_at IS NULL AND user_id = ?
    ORDER BY created_at DESC, id DESC LIMIT 50`;
  const pageAfter = `SELECT * FROM requests WHERE deleted_at IS NULL AND user_id = ?
    AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT 50`;
  const statusPage = `SELECT * FROM requests WHERE deleted_at IS NULL
    AND status = 'completed' AND user_id = ? ORDER BY created_at DESC, id DESC LIMIT 50`;
  const statusPageAfter = `SELECT * FROM requests WHERE deleted_at IS NULL
    AND status = 'completed' AND user_id = ? AND (created_at, id) < (?, ?)
    ORDER BY created_at DESC, id DESC LIMIT 50`;
  const count = "SELECT count(*) FROM requests WHERE deleted_at IS NULL AND user_id = ?";
  const statusCount = `SELECT count(*) FROM requests WHERE deleted_at IS NULL
    AND status = 'completed' AND user_id = ?`;
  const dayCounts = `SELECT status, count(*) FROM requests WHERE created_at >= ?
    GROUP BY status`;
  const dayDurations = `SELECT duration_ms FROM requests WHERE created_at >= ?
    AND status = 'completed' ORDER BY duration_ms`;
  const [allAt, allId] = decode(cursors.all as string);
  const [doneAt, doneId] = decode(cursors.completed as string);
  const user = shape.heavyUser;
  const since = SEED_NOW - 86_400_000;
  const raw = (name: string, sql: string, params: unknown[]): Query => ({
    name: `raw: ${name}`,
    goalP99Ms: null,
    seedLimitMs: null,
    run: () => store.all(sql, params),
  });
  return [
    raw("user history page 1", page, [user]),
    raw(`user history page ${lastPage}`, pageAfter, [user, allAt, allId]),
    raw("user history status=completed page 1", statusPage, [user]),
    raw(`user history status=completed page ${lastPage}`, statusPageAfter, [user, doneAt, doneId]),
    raw("user count", count, [user]),
    raw("user count status=completed", statusCount, [user]),
    raw("24 h counts by status (from rows)", dayCounts, [since]),
    raw("24 h completed durations, sorted (from rows)", dayDurations, [since]),
  ];
}

async function run(options: RunOptions): Promise<BenchmarkReport> {
  const url = options.postgresUrl;
  const requests = envPositiveInt(
    "BENCH_REQUESTS",
    url === undefined ? 1_000_000 : POSTGRES_DEFAULT_REQUESTS,
  );
  // The heaviest user gets 1 % of the requests; paging needs at least two pages of them.
  if (requests < 10_000) throw new Error("BENCH_REQUESTS must be at least 10,000");
  if (url !== undefined) {
    return withFreshSchema(url, "queries", async (schema) =>
      measure(requests, await postgresQueryStore(url, schema)),
    );
  }
  const keep = process.env.BENCH_QUERIES_DB;
  const path = keep ?? join(tmpdir(), `reqtrack-queries-${process.pid}.db`);
  return measure(requests, sqliteQueryStore(path, keep !== undefined));
}

/** Seeds `store` (unless it holds the data set already), then times every query on it. */
async function measure(requests: number, store: QueryStore): Promise<BenchmarkReport> {
  // Queries run at SEED_NOW; the seed runs a day later so no op of it is in the future.
  let clockNow = SEED_NOW;
  const open = () =>
    createTracker({
      storage: store.storage,
      logger: pino({ level: "silent" }),
      clock: () => clockNow,
      watchdogIntervalMs: 0,
      retentionDays: null,
    });
  const tracker = await open();
  try {
    const { n: seeded } = await store.one<{ n: number }>("SELECT count(*) AS n FROM requests");
    let seedSeconds: number | null = null;
    if (seeded !== requests) {
      if (seeded !== 0) {
        throw new Error(`${store.storage} holds ${seeded} requests, not ${requests}; remove it`);
      }
      const started = performance.now();
      clockNow = SEED_NOW + 86_400_000; // past every op's time: ingest refuses future ops
      const others = await Promise.all(Array.from({ length: store.seedTrackers - 1 }, open));
      try {
        await seedRequests([tracker, ...others], requests);
      } finally {
        await Promise.all(others.map((other) => other.close()));
      }
      seedSeconds = (performance.now() - started) / 1000;
    } else {
      progress(`reusing ${store.storage} (${formatNumber(seeded)} requests)`);
    }
    const shape = await seedShapeOf(store, requests);
    clockNow = SEED_NOW;
    await store.settle(tracker);
    const size = await store.size();
    const rssBytes = process.memoryUsage().rss;

    progress("timing queries (50 runs each after 3 warm-up runs)");
    // Page 100 of 50 needs 5,000 requests; a small BENCH_REQUESTS times the last full page.
    const lastPage = Math.max(2, Math.min(100, Math.floor((shape.heavyUserRequests * 0.9) / 50)));
    const cursors = {
      all: await cursorOf(tracker, { userId: shape.heavyUser }, lastPage),
      completed: await cursorOf(
        tracker,
        { userId: shape.heavyUser, status: "completed" },
        lastPage,
      ),
    };
    const scaled = (goal: number | null) => (goal === null ? null : goal * store.goalFactor);
    const timings: Timing[] = [];
    for (const query of [
      ...trackerQueries(tracker, shape, cursors, lastPage),
      ...rawQueries(store, shape, cursors, lastPage),
    ]) {
      timings.push(await time({ ...query, goalP99Ms: scaled(query.goalP99Ms) }));
    }
    return report(store, requests, seedSeconds, size, rssBytes, shape, timings);
  } finally {
    await tracker.close();
    await store.close();
  }
}

const ROLLUP_TABLES = ["rollup_requests", "rollup_stages", "rollup_costs", "rollup_sessions"];

async function seedShapeOf(store: QueryStore, requests: number): Promise<SeedShape> {
  const one = <T>(sql: string) => store.one<T>(sql);
  const heavy = await one<{ user_id: string; n: number }>(
    "SELECT user_id, count(*) AS n FROM requests GROUP BY user_id ORDER BY n DESC LIMIT 1",
  );
  const tenant = await one<{ tenant_id: string; n: number }>(
    "SELECT tenant_id, count(*) AS n FROM requests GROUP BY tenant_id ORDER BY n DESC LIMIT 1",
  );
  const count = async (sql: string) => (await one<{ n: number }>(sql)).n;
  // Analytics rollups: none on a store that keeps none (PostgreSQL until they land).
  let rollupRows = 0;
  for (const table of ROLLUP_TABLES) {
    if (await store.hasTable(table))
      rollupRows += await count(`SELECT count(*) AS n FROM ${table}`);
  }
  return {
    requests,
    heavyUser: heavy.user_id,
    heavyUserRequests: heavy.n,
    busiestTenant: tenant.tenant_id,
    busiestTenantRequests: tenant.n,
    users: await count("SELECT count(DISTINCT user_id) AS n FROM requests"),
    tenants: await count("SELECT count(DISTINCT tenant_id) AS n FROM requests"),
    lastDay: await count(
      `SELECT count(*) AS n FROM requests WHERE created_at >= ${SEED_NOW - 86_400_000}`,
    ),
    stages: await count("SELECT count(*) AS n FROM stages"),
    costs: await count("SELECT count(*) AS n FROM costs"),
    rollupRows,
  };
}

function report(
  store: QueryStore,
  requests: number,
  seedSeconds: number | null,
  size: { bytes: number; what: string },
  rssBytes: number,
  shape: SeedShape,
  timings: Timing[],
): BenchmarkReport {
  const ms = (v: number | null) => (v === null ? "-" : formatNumber(v, v < 10 ? 2 : 1));
  const verdict = (t: Timing) =>
    t.p99 === null
      ? "n/a (not supported by this store)"
      : t.goalP99Ms === null
        ? ""
        : t.p99 <= t.goalP99Ms
          ? "met"
          : "MISSED";
  const mib = (bytes: number) => `${formatNumber(bytes / 2 ** 20, 0)} MiB`;
  const unsupported = timings.filter((t) => t.unsupported !== null);
  const seeders =
    store.seedTrackers === 1 ? "one tracker" : `${store.seedTrackers} trackers at once`;
  return {
    parameters: {
      requests,
      rounds: ROUNDS,
      warmup: WARMUP,
      statistic: "p50 and p99 (nearest rank) of 50 timed runs after 3 warm-up runs",
      seed: {
        path: `tracker.ingest (the public bulk path) through ${seeders}: whole lifecycles per call of at most 1,000 ops (create, transition, stage start/complete/fail, cost), 4 calls in flight`,
        now: new Date(SEED_NOW).toISOString(),
        ...shape,
      },
      storage: store.description,
      ...store.parameters,
      goalFactor: store.goalFactor,
    },
    table: {
      columns: [
        { title: "query", align: "left" },
        { title: "p50 ms", align: "right" },
        { title: "p99 ms", align: "right" },
        { title: "goal p99", align: "right" },
        { title: "seed 001 limit", align: "right" },
        { title: "", align: "left" },
      ],
      rows: timings.map((t) => [
        t.name,
        ms(t.p50),
        ms(t.p99),
        ms(t.goalP99Ms),
        ms(t.seedLimitMs),
        verdict(t),
      ]),
    },
    notes: [
      `${formatNumber(requests)} requests, ${formatNumber(shape.lastDay)} in the last 24 h, ` +
        `${formatNumber(shape.users)} users (heaviest ${formatNumber(shape.heavyUserRequests)}), ` +
        `${formatNumber(shape.tenants)} tenants, ${formatNumber(shape.stages)} stage runs, ` +
        `${formatNumber(shape.costs)} cost records, ${formatNumber(shape.rollupRows)} rollup rows.`,
      `Store: ${store.description}.` +
        (store.goalFactor === 1 ? "" : ` Goals are ${store.goalFactor}x SQLite's.`),
      seedSeconds === null
        ? "Seeding: reused an existing file."
        : `Seeding through tracker.ingest (${seeders}): ${formatNumber(seedSeconds, 1)} s ` +
          `(${formatNumber(requests / seedSeconds)} requests/s).`,
      `Size: ${size.what}: ${mib(size.bytes)}; process RSS: ${mib(rssBytes)}.`,
      `raw: rows are ${store.rawLabel}, no reqtrack code.`,
      ...(unsupported.length === 0
        ? []
        : [
            `n/a: ${unsupported.length} queries rejected by this store ` +
              `("${unsupported[0]?.unsupported}"); they report figures once it answers them.`,
          ]),
    ],
    figures: {
      seedSeconds,
      storeBytes: size.bytes,
      storeBytesCounted: size.what,
      rssBytes,
      unsupportedQueries: unsupported.length,
      queries: Object.fromEntries(timings.map((t) => [t.name, t])),
    },
  };
}

export const benchmark: Benchmark = {
  name: "queries",
  description: "dashboard and history queries on a seeded store, against seed 001's limits",
  storages: ["sqlite", "postgres"],
  run,
};

export { run };

if (isMain(import.meta.url)) await runStandalone(benchmark);
