/**
 * Query benchmark (issue 4): seed a SQLite store with 1,000,000 requests through the public
 * API, then time each dashboard query 50 times against the seed-001 limits and our goals,
 * beside raw better-sqlite3 for the same history and count queries (the floor).
 *
 *   npm run bench -- queries                        (writes bench/results/queries.json)
 *   BENCH_REQUESTS=50_000 npm run bench -- queries  (a quick check)
 *   BENCH_QUERIES_DB=/tmp/q.db node --import tsx bench/queries.ts   (keeps the seeded file and
 *                                                   reuses it on the next run)
 */
import { existsSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
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
  runBenchmark,
} from "./support/harness.js";

const ROUNDS = 50;
const WARMUP = 3;

interface Query {
  name: string;
  goalP99Ms: number | null;
  seedLimitMs: number | null;
  run(): Promise<unknown> | unknown;
}

interface Timing {
  name: string;
  p50: number;
  p99: number;
  goalP99Ms: number | null;
  seedLimitMs: number | null;
}

async function time(query: Query): Promise<Timing> {
  for (let i = 0; i < WARMUP; i++) await query.run();
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    await query.run();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const rank = (p: number) => samples[Math.max(1, Math.ceil((p * samples.length) / 100)) - 1] ?? 0;
  return { name: query.name, p50: rank(50), p99: rank(99), ...limits(query) };
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

/** The same history and count queries straight through better-sqlite3: the floor. */
function rawQueries(
  path: string,
  shape: SeedShape,
  cursors: Record<string, string>,
  lastPage: number,
): Query[] {
  const db = new Database(path, { readonly: true });
  const decode = (cursor: string) =>
    JSON.parse(Buffer.from(cursor, "base64url").toString()) as [number, string];
  const page = db.prepare(`SELECT * FROM requests WHERE deleted_at IS NULL AND user_id = ?
    ORDER BY created_at DESC, id DESC LIMIT 50`);
  const pageAfter = db.prepare(`SELECT * FROM requests WHERE deleted_at IS NULL AND user_id = ?
    AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT 50`);
  const statusPage = db.prepare(`SELECT * FROM requests WHERE deleted_at IS NULL
    AND status = 'completed' AND user_id = ? ORDER BY created_at DESC, id DESC LIMIT 50`);
  const statusPageAfter = db.prepare(`SELECT * FROM requests WHERE deleted_at IS NULL
    AND status = 'completed' AND user_id = ? AND (created_at, id) < (?, ?)
    ORDER BY created_at DESC, id DESC LIMIT 50`);
  const count = db.prepare(
    "SELECT count(*) FROM requests WHERE deleted_at IS NULL AND user_id = ?",
  );
  const statusCount = db.prepare(`SELECT count(*) FROM requests WHERE deleted_at IS NULL
    AND status = 'completed' AND user_id = ?`);
  const dayCounts = db.prepare(`SELECT status, count(*) FROM requests WHERE created_at >= ?
    GROUP BY status`);
  const dayDurations = db.prepare(`SELECT duration_ms FROM requests WHERE created_at >= ?
    AND status = 'completed' ORDER BY duration_ms`);
  const [allAt, allId] = decode(cursors.all as string);
  const [doneAt, doneId] = decode(cursors.completed as string);
  const user = shape.heavyUser;
  const since = SEED_NOW - 86_400_000;
  const raw = (name: string, run: () => unknown): Query => ({
    name: `raw: ${name}`,
    goalP99Ms: null,
    seedLimitMs: null,
    run,
  });
  return [
    raw("user history page 1", () => page.all(user)),
    raw(`user history page ${lastPage}`, () => pageAfter.all(user, allAt, allId)),
    raw("user history status=completed page 1", () => statusPage.all(user)),
    raw(`user history status=completed page ${lastPage}`, () =>
      statusPageAfter.all(user, doneAt, doneId),
    ),
    raw("user count", () => count.get(user)),
    raw("user count status=completed", () => statusCount.get(user)),
    raw("24 h counts by status (from rows)", () => dayCounts.all(since)),
    raw("24 h completed durations, sorted (from rows)", () => dayDurations.all(since)),
  ];
}

async function run(): Promise<BenchmarkReport> {
  const requests = envPositiveInt("BENCH_REQUESTS", 1_000_000);
  // The heaviest user gets 1 % of the requests; paging needs at least two pages of them.
  if (requests < 10_000) throw new Error("BENCH_REQUESTS must be at least 10,000");
  const keep = process.env.BENCH_QUERIES_DB;
  const path = keep ?? join(tmpdir(), `reqtrack-queries-${process.pid}.db`);
  // Queries run at SEED_NOW; the seed runs a day later so no op of it is in the future.
  let clockNow = SEED_NOW;
  const tracker = await createTracker({
    storage: path,
    logger: pino({ level: "silent" }),
    clock: () => clockNow,
    watchdogIntervalMs: 0,
    retentionDays: null,
  });
  try {
    const seeded = (tracker.store as unknown as { db: Database.Database }).db
      .prepare("SELECT count(*) FROM requests")
      .pluck()
      .get() as number;
    let seedSeconds: number | null = null;
    if (seeded !== requests) {
      if (seeded !== 0)
        throw new Error(`${path} holds ${seeded} requests, not ${requests}; remove it`);
      const started = performance.now();
      clockNow = SEED_NOW + 86_400_000; // past every op's time: ingest refuses future ops
      await seedRequests(tracker, requests);
      seedSeconds = (performance.now() - started) / 1000;
    } else {
      progress(`reusing ${path} (${formatNumber(seeded)} requests)`);
    }
    const shape = await seedShapeOf(tracker, requests);
    clockNow = SEED_NOW;
    const db = (tracker.store as unknown as { db: Database.Database }).db;
    db.pragma("wal_checkpoint(TRUNCATE)");
    const fileBytes =
      statSync(path).size + (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);
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
    const timings: Timing[] = [];
    for (const query of [
      ...trackerQueries(tracker, shape, cursors, lastPage),
      ...rawQueries(path, shape, cursors, lastPage),
    ]) {
      timings.push(await time(query));
    }
    return report(requests, seedSeconds, fileBytes, rssBytes, shape, timings);
  } finally {
    await tracker.close();
    if (!keep)
      for (const suffix of ["", "-wal", "-shm", ".outbox.ndjson"])
        rmSync(`${path}${suffix}`, { force: true });
  }
}

async function seedShapeOf(tracker: Tracker, requests: number): Promise<SeedShape> {
  const db = (tracker.store as unknown as { db: Database.Database }).db;
  const one = <T>(sql: string) => db.prepare(sql).get() as T;
  const heavy = one<{ user_id: string; n: number }>(
    "SELECT user_id, count(*) AS n FROM requests GROUP BY user_id ORDER BY n DESC LIMIT 1",
  );
  const tenant = one<{ tenant_id: string; n: number }>(
    "SELECT tenant_id, count(*) AS n FROM requests GROUP BY tenant_id ORDER BY n DESC LIMIT 1",
  );
  return {
    requests,
    heavyUser: heavy.user_id,
    heavyUserRequests: heavy.n,
    busiestTenant: tenant.tenant_id,
    busiestTenantRequests: tenant.n,
    users: one<{ n: number }>("SELECT count(DISTINCT user_id) AS n FROM requests").n,
    tenants: one<{ n: number }>("SELECT count(DISTINCT tenant_id) AS n FROM requests").n,
    lastDay: one<{ n: number }>(
      `SELECT count(*) AS n FROM requests WHERE created_at >= ${SEED_NOW - 86_400_000}`,
    ).n,
    stages: one<{ n: number }>("SELECT count(*) AS n FROM stages").n,
    costs: one<{ n: number }>("SELECT count(*) AS n FROM costs").n,
    rollupRows: one<{ n: number }>(
      `SELECT (SELECT count(*) FROM rollup_requests) + (SELECT count(*) FROM rollup_stages)
      + (SELECT count(*) FROM rollup_costs) + (SELECT count(*) FROM rollup_sessions) AS n`,
    ).n,
  };
}

function report(
  requests: number,
  seedSeconds: number | null,
  fileBytes: number,
  rssBytes: number,
  shape: SeedShape,
  timings: Timing[],
): BenchmarkReport {
  const ms = (v: number | null) => (v === null ? "-" : formatNumber(v, v < 10 ? 2 : 1));
  const verdict = (t: Timing) =>
    t.goalP99Ms === null ? "" : t.p99 <= t.goalP99Ms ? "met" : "MISSED";
  const mib = (bytes: number) => `${formatNumber(bytes / 2 ** 20, 0)} MiB`;
  return {
    parameters: {
      requests,
      rounds: ROUNDS,
      warmup: WARMUP,
      statistic: "p50 and p99 (nearest rank) of 50 timed runs after 3 warm-up runs",
      seed: {
        path: "tracker.ingest (the public bulk path): whole lifecycles per call of at most 1,000 ops (create, transition, stage start/complete/fail, cost), 4 calls in flight",
        now: new Date(SEED_NOW).toISOString(),
        ...shape,
      },
      storage: "SQLite file, WAL, synchronous=NORMAL",
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
      seedSeconds === null
        ? "Seeding: reused an existing file."
        : `Seeding through tracker.ingest: ${formatNumber(seedSeconds, 1)} s ` +
          `(${formatNumber(requests / seedSeconds)} requests/s).`,
      `Store file (after a WAL checkpoint): ${mib(fileBytes)}; process RSS: ${mib(rssBytes)}.`,
      "raw: rows are better-sqlite3 on the same file, prepared statements, no reqtrack code.",
    ],
    figures: {
      seedSeconds,
      fileBytes,
      rssBytes,
      queries: Object.fromEntries(timings.map((t) => [t.name, t])),
    },
  };
}

export const benchmark: Benchmark = {
  name: "queries",
  description: "dashboard and history queries at a million requests, against seed 001's limits",
  run,
};

export { run };

if (isMain(import.meta.url)) await runBenchmark(benchmark, { writeResults: false });
