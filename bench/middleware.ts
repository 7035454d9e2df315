/**
 * Middleware benchmark: autocannon on loopback against a Fastify app with a trivial
 * GET /api/ping, bare and with the reqtrack plugin tracking every call into a SQLite file, in
 * the same run, alternating. Goal: >= 0.85x the bare throughput and p99 + 1 ms at most.
 *
 * Two loads per run: `connections` connections as fast as the server answers (throughput, and
 * p99 at saturation, where it is mostly queueing), then one connection at `rate` calls per
 * second (p99 of a call that waits behind no other: the latency tracking adds to one call).
 * autocannon's rate limit sends each second's quota back to back, so the second load is one
 * call at a time, not an even spread. A third variant runs the plugin with its tracker writes
 * discarded, to separate the middleware's own cost from the store's.
 *
 *   npm run bench -- middleware                       (writes bench/results/middleware.json)
 *   BENCH_SECONDS=5 BENCH_ROUNDS=1 npm run bench -- middleware
 *   node --import tsx bench/middleware.ts             (standalone, results not written)
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import {
  type Benchmark,
  type BenchmarkReport,
  envPositiveInt,
  formatNumber,
  isMain,
  median,
  progress,
  runStandalone,
} from "./support/harness.js";

const GOAL_RATIO = 0.85;
const GOAL_P99_EXTRA_MS = 1;
const SERVER = fileURLToPath(new URL("./support/middleware-server.ts", import.meta.url));

const VARIANTS = {
  bare: "Fastify, no middleware",
  noop: "+ reqtrack plugin, writes discarded",
  tracked: "+ reqtrack plugin, SQLite file",
} as const;
type VariantKey = keyof typeof VARIANTS;

interface Settings {
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  connections: number;
  /** Calls per second of the one-connection load. */
  rate: number;
}

interface Load {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  responses: number;
}

interface Run {
  max: Load;
  oneConn: Load;
  tracked: number | null;
}

/** Starts the server process for `variant`; resolves with its port once it listens. */
async function startServer(variant: VariantKey, storage: string) {
  const child = fork(SERVER, [variant, storage], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const [message] = (await once(child, "message")) as [{ port: number }];
  return {
    port: message.port,
    async stop(): Promise<number | null> {
      child.send("stop");
      const [reply] = (await once(child, "message")) as [{ tracked: number | null }];
      await once(child, "exit");
      return reply.tracked;
    },
  };
}

async function load(port: number, seconds: number, connections: number, rate?: number) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/api/ping`,
    connections,
    duration: seconds,
    ...(rate ? { overallRate: rate } : {}),
  });
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`${result.errors} errors, ${result.non2xx} non-2xx responses`);
  }
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    responses: result.requests.total,
  } satisfies Load;
}

async function measure(variant: VariantKey, settings: Settings, file: string): Promise<Run> {
  const server = await startServer(variant, file);
  let max: Load;
  let oneConn: Load;
  let tracked: number | null;
  try {
    // Warm the JIT (and the SQLite file) first; it does not count.
    await load(server.port, settings.warmupSeconds, settings.connections);
    max = await load(server.port, settings.seconds, settings.connections);
    oneConn = await load(server.port, settings.seconds, 1, settings.rate);
  } finally {
    tracked = await server.stop();
  }
  if (variant === "tracked" && (tracked ?? 0) < max.responses + oneConn.responses) {
    throw new Error(`tracked ${tracked} requests, fewer than the answered measured calls`);
  }
  return { max, oneConn, tracked };
}

async function run(): Promise<BenchmarkReport> {
  const settings: Settings = {
    seconds: envPositiveInt("BENCH_SECONDS", 10),
    warmupSeconds: envPositiveInt("BENCH_WARMUP_SECONDS", 3),
    rounds: envPositiveInt("BENCH_ROUNDS", 3),
    connections: envPositiveInt("BENCH_CONNECTIONS", 50),
    rate: envPositiveInt("BENCH_RATE", 1_000),
  };
  const loadBefore = loadavg()[0] ?? 0;
  const dir = mkdtempSync(join(tmpdir(), "reqtrack-bench-mw-"));
  const keys = Object.keys(VARIANTS) as VariantKey[];
  const runs: Record<VariantKey, Run[]> = { bare: [], noop: [], tracked: [] };
  try {
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate the order so that drift on a shared machine lands on every side.
      for (let i = 0; i < keys.length; i++) {
        const variant = keys[(round + i) % keys.length] as VariantKey;
        const result = await measure(variant, settings, join(dir, `${variant}-${round}.db`));
        runs[variant].push(result);
        progress(
          `round ${round + 1}/${settings.rounds} ${variant}: ` +
            `${formatNumber(result.max.requestsPerSecond)} req/s, p99 ${result.max.p99Ms} ms; ` +
            `one at a time p99 ${result.oneConn.p99Ms} ms` +
            (result.tracked === null ? "" : `; ${result.tracked} calls tracked`),
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Other work on a 2-core machine skews every figure: say how busy it was.
  return report(settings, runs, [loadBefore, loadavg()[0] ?? 0]);
}

function report(
  settings: Settings,
  runs: Record<VariantKey, Run[]>,
  load1m: [before: number, after: number],
): BenchmarkReport {
  const summarize = (key: VariantKey) => {
    const of = (pick: (r: Run) => number) => median(runs[key].map(pick));
    return {
      requestsPerSecond: of((r) => r.max.requestsPerSecond),
      p50Ms: of((r) => r.max.p50Ms),
      p99Ms: of((r) => r.max.p99Ms),
      oneConnP50Ms: of((r) => r.oneConn.p50Ms),
      oneConnP99Ms: of((r) => r.oneConn.p99Ms),
    };
  };
  const summary = {
    bare: summarize("bare"),
    noop: summarize("noop"),
    tracked: summarize("tracked"),
  };
  const { bare, tracked } = summary;
  const ratio = tracked.requestsPerSecond / bare.requestsPerSecond;
  const p99ExtraMs = tracked.oneConnP99Ms - bare.oneConnP99Ms;
  const p99ExtraAtSaturationMs = tracked.p99Ms - bare.p99Ms;
  const goalMet = ratio >= GOAL_RATIO && p99ExtraMs <= GOAL_P99_EXTRA_MS;
  const ms = (value: number) => formatNumber(value, 1);
  return {
    parameters: {
      ...settings,
      statistic: `median of ${settings.rounds} runs per variant, order rotating per round`,
      route: "GET /api/ping -> { pong: true }",
      loadGenerator:
        "autocannon in the bench process, loopback; one server process per run; " +
        "`connections` connections at full load, then 1 connection with overallRate = rate",
      tracking:
        "reqtrack/fastify plugin, route table { GET /api/ping: ping }, fresh SQLite file per " +
        "run (WAL, synchronous NORMAL), logger silent, watchdog off",
      fastifyLogger: false,
      loadAverage1mBeforeAfter: load1m,
    },
    table: {
      columns: [
        { title: "variant", align: "left" },
        { title: "req/s", align: "right" },
        { title: "vs bare", align: "right" },
        { title: "p50 ms", align: "right" },
        { title: "p99 ms", align: "right" },
        { title: "p50 1 conn", align: "right" },
        { title: "p99 1 conn", align: "right" },
        { title: "runs (req/s)", align: "left" },
      ],
      rows: (Object.keys(VARIANTS) as VariantKey[]).map((key) => [
        VARIANTS[key],
        formatNumber(summary[key].requestsPerSecond),
        formatNumber(summary[key].requestsPerSecond / bare.requestsPerSecond, 2),
        ms(summary[key].p50Ms),
        ms(summary[key].p99Ms),
        ms(summary[key].oneConnP50Ms),
        ms(summary[key].oneConnP99Ms),
        runs[key].map((r) => formatNumber(r.max.requestsPerSecond)).join(" / "),
      ]),
    },
    notes: [
      `${settings.connections} connections for ${settings.seconds} s at full load, then 1 ` +
        `connection at ${settings.rate} calls/s for ${settings.seconds} s, after a ` +
        `${settings.warmupSeconds} s warm-up; median of ${settings.rounds} rounds.`,
      "Every tracked run is checked: the store holds a completed request for every answered call.",
      `throughput tracked / bare = ${formatNumber(ratio, 2)} (goal >= ${GOAL_RATIO})`,
      `p99 tracked - bare, one call at a time = ${ms(p99ExtraMs)} ms ` +
        `(goal <= ${GOAL_P99_EXTRA_MS} ms); at full load ${ms(p99ExtraAtSaturationMs)} ms`,
      `goal ${goalMet ? "met" : "NOT met"}`,
      `1-minute load average before / after: ${load1m.map((l) => formatNumber(l, 2)).join(" / ")} ` +
        "(2 cores; anything above ~1 beyond this benchmark skews the figures)",
    ],
    figures: {
      ratio,
      p99ExtraMs,
      p99ExtraAtSaturationMs,
      goalRatio: GOAL_RATIO,
      goalP99ExtraMs: GOAL_P99_EXTRA_MS,
      goalMet,
      ...summary,
      runs,
    },
  };
}

export const benchmark: Benchmark = {
  name: "middleware",
  description: "Fastify /api/ping under autocannon: bare vs reqtrack plugin into SQLite",
  // Not on PostgreSQL yet: its server process tracks into a SQLite file.
  storages: ["sqlite"],
  run,
};

if (isMain(import.meta.url)) await runStandalone(benchmark);
