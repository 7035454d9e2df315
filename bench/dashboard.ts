/**
 * Dashboard benchmark (issue 14): seed a store (the data set of bench/queries.ts, straight
 * through the store's batch path: support/direct-seed.ts), serve it, and load each dashboard
 * page in headless Chromium (Debian's /usr/bin/chromium, never a downloaded one) again and
 * again: the time from navigation until the page shows its figures, p50/p99 per page, and the
 * p99 of every API call the pages made, as the browser saw it. Then each URL the pages called
 * is timed alone (support/single-calls.ts): the query's own cost, without the page's other
 * calls or the browser competing for the event loop.
 *
 *   npm run bench -- dashboard                          (100,000 requests; results file)
 *   BENCH_REQUESTS=1000000 npm run bench -- dashboard   (the issue's million)
 *   BENCH_DASHBOARD_DB=/tmp/d.db npm run bench -- dashboard   (keeps and reuses the seeded file)
 *   npm run bench -- --storage postgres://postgres@127.0.0.1/test dashboard   (a fresh schema)
 *   BENCH_DASHBOARD_SCHEMA=s npm run bench -- --storage postgres://… dashboard   (a kept schema)
 *
 * Seed a kept store ahead, niced and outside the bench lock: bench/seed-store.ts.
 */
import { existsSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { pino } from "pino";
import { createTracker, openStore } from "../src/index.js";
import { buildApp } from "../src/server/app.js";
import { DASHBOARD_DIR } from "../src/server/dashboard.js";
import { CHROMIUM, launchBrowser } from "../test/e2e/support/chromium.js";
import {
  type Benchmark,
  type BenchmarkReport,
  envPositiveInt,
  formatNumber,
  isMain,
  machineInfo,
  median,
  progress,
  redactUrl,
  type RunOptions,
  runStandalone,
} from "./support/harness.js";
import { seedDirect } from "./support/direct-seed.js";
import { withFreshSchema } from "./support/postgres.js";
import { p99, singleCallTimes } from "./support/single-calls.js";
import { SEED_NOW } from "./support/query-seed.js";

const LOADS = 30;
const WARMUP = 3;
/** The issue's goals: each API call p99 <= 50 ms; the overview drawn within 1 s. */
const API_GOAL_P99_MS = 50;
const OVERVIEW_GOAL_MS = 1000;

interface PageCase {
  name: string;
  path: string;
  /** Drawn: the page shows its data (not a spinner). */
  ready: (page: Page) => Promise<unknown>;
}

/**
 * Seeds `storage` with `requests` requests unless it holds them already (BENCH_DASHBOARD_DB
 * keeps the file for the next run); the seconds it took, or null when reused.
 */
async function seedUnlessSeeded(storage: string, requests: number): Promise<number | null> {
  const store = await openStore(storage);
  try {
    const existing = (await store.listRequests({ limit: 0, offset: 0 })).total;
    if (existing === requests) return null;
    if (existing !== 0)
      throw new Error(`${storage} holds ${existing} requests, not ${requests}; remove it`);
    const started = performance.now();
    await seedDirect(store, requests);
    return (performance.now() - started) / 1000;
  } finally {
    await store.close();
  }
}

async function run(options: RunOptions): Promise<BenchmarkReport> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  if (!existsSync(join(DASHBOARD_DIR, "index.html")))
    throw new Error("the dashboard is not built: npm run build");
  const requests = envPositiveInt("BENCH_REQUESTS", 100_000);
  const url = options.postgresUrl;
  const keptSchema = process.env.BENCH_DASHBOARD_SCHEMA;
  if (url !== undefined && keptSchema !== undefined) {
    // A schema seeded before (bench/seed-store.ts) and kept: reused, never dropped.
    const separator = url.includes("?") ? "&" : "?";
    const options = encodeURIComponent(`-c search_path=${keptSchema}`);
    const schemaUrl = `${url}${separator}options=${options}&application_name=${keptSchema}`;
    return measure(schemaUrl, requests, {
      storage: "postgres",
      url: redactUrl(url),
      kept: keptSchema,
    });
  }
  if (url !== undefined) {
    return withFreshSchema(url, "dashboard", (schema) =>
      measure(schema.url, requests, { storage: "postgres", url: redactUrl(url) }),
    );
  }
  const keep = process.env.BENCH_DASHBOARD_DB;
  const path = keep ?? join(tmpdir(), `reqtrack-dashboard-${process.pid}.db`);
  try {
    return await measure(path, requests, { storage: "sqlite", kept: keep ?? null });
  } finally {
    if (!keep)
      for (const s of ["", "-wal", "-shm", ".outbox.ndjson"])
        rmSync(`${path}${s}`, { force: true });
  }
}

async function measure(
  storage: string,
  requests: number,
  described: Record<string, unknown>,
): Promise<BenchmarkReport> {
  const seedSeconds = await seedUnlessSeeded(storage, requests);
  // The pages look at the seed's last day, as a viewer would an hour after it.
  const clockNow = SEED_NOW + 3_600_000;
  const tracker = await createTracker({
    storage,
    logger: pino({ level: "silent" }),
    clock: () => clockNow,
    watchdogIntervalMs: 0,
    retentionDays: null,
  });
  const app = await buildApp({ tracker, open: true, logger: false });
  const browser = await launchBrowser({ width: 1360, height: 900 });
  try {
    await app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const some = (await tracker.listRequests({ status: "completed", limit: 1 })).items[0];
    if ((await tracker.budgets.list()).length === 0)
      await tracker.budgets.create({ name: "monthly", period: "month", amountUsd: 500 });
    if (!some) throw new Error("the seed has no completed request");

    const cases: PageCase[] = [
      {
        name: "overview",
        path: "/?window=24h",
        ready: async (p) => {
          await p.waitForSelector(".charts .chart:nth-child(3) canvas");
          await p.waitForSelector('[data-stat="Running now"]');
        },
      },
      {
        name: "requests",
        path: "/requests",
        ready: (p) => p.waitForSelector("table.requests tbody tr"),
      },
      {
        name: "requests (filtered)",
        path: "/requests?status=failed&kind=video_generation",
        ready: (p) => p.waitForSelector("table.requests tbody tr, .empty"),
      },
      {
        // A rare prompt: the text search scans what the other filters leave (worst case).
        name: "requests, prompt",
        path: "/requests?prompt=topic%20399",
        ready: (p) => p.waitForSelector("table.requests tbody tr, .empty"),
      },
      {
        name: "requests, source",
        path: "/requests?source=web",
        ready: (p) => p.waitForSelector("table.requests tbody tr"),
      },
      {
        name: "request detail",
        path: `/requests/${some.id}`,
        ready: (p) => p.waitForSelector(".waterfall, .events"),
      },
      { name: "costs", path: "/costs?window=30d", ready: (p) => p.waitForSelector("#csv-export") },
      {
        name: "stages",
        path: "/stages?window=24h",
        ready: (p) => p.waitForSelector("tbody tr, .empty"),
      },
      { name: "breakers", path: "/breakers", ready: (p) => p.waitForSelector(".empty, tbody tr") },
      {
        name: "budgets",
        path: "/budgets",
        ready: (p) => p.waitForSelector(".budget .chart canvas"),
      },
      {
        name: "queue",
        path: "/queue",
        ready: (p) => p.waitForSelector('[data-stat="Oldest pending"]'),
      },
    ];

    const page = await browser.context.newPage();
    const api = new Map<string, number[]>();
    const urls = new Map<string, Set<string>>();
    page.on("requestfinished", (request) => {
      const url = new URL(request.url());
      if (!url.pathname.startsWith("/api/v1/") || url.pathname === "/api/v1/stream") return;
      if (request.method() !== "GET") return;
      const route = url.pathname.replace(/(req|bud)_[0-9a-f-]+/, ":id");
      const timing = request.timing();
      const ms = timing.responseEnd - timing.requestStart;
      if (ms >= 0) api.set(route, [...(api.get(route) ?? []), ms]);
      urls.set(route, (urls.get(route) ?? new Set()).add(`${url.pathname}${url.search}`));
    });
    const rows: string[][] = [];
    const figures: Record<string, unknown> = {};
    for (const c of cases) {
      progress(`loading ${c.name} ${WARMUP + LOADS} times`);
      const times: number[] = [];
      for (let i = 0; i < WARMUP + LOADS; i++) {
        // A blank page first, so each load starts cold of the page's state (assets cached).
        await page.goto("about:blank");
        const started = performance.now();
        await page.goto(`${base}${c.path}`);
        await c.ready(page);
        if (i >= WARMUP) times.push(performance.now() - started);
      }
      const p50 = median(times);
      const top = p99(times);
      figures[c.name] = { p50Ms: p50, p99Ms: top };
      rows.push([c.name, c.path, formatNumber(p50, 1), formatNumber(top, 1)]);
    }
    const apiRows = [...api]
      .map(([route, ms]) => ({ route, n: ms.length, p50: median(ms), p99: p99(ms) }))
      .sort((a, b) => b.p99 - a.p99);
    for (const a of apiRows) {
      rows.push([
        `  API ${a.route}`,
        `${a.n} calls`,
        formatNumber(a.p50, 1),
        formatNumber(a.p99, 1),
      ]);
    }
    figures.api = Object.fromEntries(
      apiRows.map((a) => [a.route, { calls: a.n, p50Ms: a.p50, p99Ms: a.p99 }]),
    );
    progress("timing each API call alone");
    const alone = await singleCallTimes(app, urls);
    for (const a of alone) {
      rows.push([
        `  alone ${a.route}`,
        `${a.calls} calls`,
        formatNumber(a.p50, 1),
        formatNumber(a.p99, 1),
      ]);
    }
    figures.apiAlone = Object.fromEntries(
      alone.map((a) => [a.route, { calls: a.calls, p50Ms: a.p50, p99Ms: a.p99 }]),
    );
    // Each URL of the routes that call more than one, so a slow one is named.
    const perUrl = alone.filter((a) => a.urls.length > 1).flatMap((a) => a.urls);
    for (const u of perUrl) {
      rows.push([`    url ${u.url}`, "", formatNumber(u.p50, 1), formatNumber(u.p99, 1)]);
    }
    figures.apiAloneUrls = Object.fromEntries(
      perUrl.map((u) => [u.url, { p50Ms: u.p50, p99Ms: u.p99 }]),
    );
    const worstAlone = alone[0];
    const overview = figures.overview as { p99Ms: number };
    const worstApi = apiRows[0];
    return {
      parameters: {
        ...described,
        requests,
        loads: LOADS,
        warmup: WARMUP,
        chromium: CHROMIUM,
        seedSeconds,
        ...machineInfo(),
      },
      table: {
        columns: [
          { title: "page", align: "left" },
          { title: "url", align: "left" },
          { title: "p50 ms", align: "right" },
          { title: "p99 ms", align: "right" },
        ],
        rows,
      },
      notes: [
        `${formatNumber(requests)} requests seeded${seedSeconds === null ? " (reused)" : ` in ${formatNumber(seedSeconds)} s`}; each page loaded ${LOADS} times after ${WARMUP} warm-ups, from navigation until its figures are drawn.`,
        `overview p99 ${formatNumber(overview.p99Ms, 1)} ms (goal ${OVERVIEW_GOAL_MS} ms); slowest API call p99 ${worstApi ? `${formatNumber(worstApi.p99, 1)} ms (${worstApi.route})` : "n/a"} (goal ${API_GOAL_P99_MS} ms).`,
        `alone (each URL the pages called, one call at a time in this process): slowest p99 ${worstAlone ? `${formatNumber(worstAlone.p99, 1)} ms (${worstAlone.route})` : "n/a"}.`,
        "API times are the browser's request-to-last-byte on loopback, as the page saw them.",
        `load average at the end: ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}`,
      ],
      figures,
    };
  } finally {
    await browser.close();
    await app.close();
    await tracker.close();
  }
}

export const benchmark: Benchmark = {
  name: "dashboard",
  description: "each dashboard page loaded in headless Chromium against a seeded store",
  storages: ["sqlite", "postgres"],
  run,
};

if (isMain(import.meta.url)) await runStandalone(benchmark);
