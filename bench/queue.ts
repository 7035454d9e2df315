/**
 * Queue benchmark: enqueue jobs with three priority values through the public API, then drain
 * them with `work()` at concurrency 50 (claim, complete), against BullMQ on the local Redis
 * doing the same (addBulk with the same priorities, a Worker at concurrency 50 with an empty
 * processor). reqtrack keeps a SQLite file, or with `--storage postgres://...` a fresh
 * PostgreSQL schema per run; BullMQ runs on Redis either way.
 *
 *   npm run bench -- queue                             (writes bench/results/queue.json)
 *   BENCH_JOBS=10000 npm run bench -- queue
 *   BENCH_ROUNDS=3 npm run bench -- queue              (median of 3 alternating rounds)
 *   npm run bench -- --storage postgres://postgres@127.0.0.1/test queue
 *                                                      (writes bench/results/queue-postgres.json)
 *   node --cpu-prof --import tsx bench/queue.ts       (standalone, for profiling; takes --storage)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { type Job, Queue, Worker as BullWorker } from "bullmq";
import { Redis } from "ioredis";
import { pino } from "pino";
import { type CreateRequestInput, createTracker, type Lane } from "../src/index.js";
import {
  type Benchmark,
  type BenchmarkReport,
  type Check,
  envPositiveInt,
  failOnMismatch,
  formatNumber,
  isMain,
  median,
  progress,
  type RunOptions,
  runStandalone,
} from "./support/harness.js";
import {
  numberOf,
  onConnection,
  postgresCpuReader,
  postgresServer,
  withFreshSchema,
} from "./support/postgres.js";

const DRAIN_CONCURRENCY = 50;
const POLL_MS = 5;
/** Concurrent createRequest callers; the group commit batches their calls (up to 1,000 a commit). */
const ENQUEUE_CALLERS = 1000;
const BULL_CHUNK = 1000;
const SQLITE_GOAL_RATIO = 1.0;
/** Issue 7: every claim and completion is a server round trip away on PostgreSQL. */
const POSTGRES_GOAL_RATIO = 0.5;
/** A drain that handles nothing for this long has hung: the run fails instead of waiting forever. */
const STALL_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// The jobs, once, for both sides

/**
 * The three priority classes, most urgent first. reqtrack: priority in [0, 1], higher first,
 * one lane each (src/core/lanes.ts). BullMQ: an integer, lower first.
 */
const CLASSES: readonly { reqtrack: number; lane: Lane; bullmq: number }[] = [
  { reqtrack: 0.9, lane: "high", bullmq: 1 },
  { reqtrack: 0.5, lane: "normal", bullmq: 2 },
  { reqtrack: 0.1, lane: "low", bullmq: 3 },
];
const KIND = "bench_job";

/** Job n is of class n % 3, so the classes are interleaved in enqueue order. */
const classOf = (n: number) => n % CLASSES.length;
const userOf = (n: number) => `user-${n % 500}`;

/** How many of `jobs` jobs are of class `index`. */
const jobsOfClass = (jobs: number, index: number) => Math.ceil((jobs - index) / CLASSES.length);

function requestInput(n: number): CreateRequestInput {
  return {
    userId: userOf(n),
    kind: KIND,
    priority: CLASSES[classOf(n)]?.reqtrack,
    input: { n },
  };
}

interface BullData {
  userId: string;
  n: number;
}

function bullJob(n: number) {
  return {
    name: KIND,
    data: { userId: userOf(n), n },
    opts: { priority: CLASSES[classOf(n)]?.bullmq },
  };
}

/**
 * Counts handled jobs, and how many came out of priority order (handled after a job of a less
 * urgent class).
 */
class Countdown {
  count = 0;
  outOfOrder = 0;
  private worstClass = 0;
  private reached: () => void = () => {};
  private readonly done: Promise<void>;

  constructor(private readonly target: number) {
    this.done = new Promise<void>((resolve) => {
      this.reached = resolve;
    });
    if (target === 0) this.reached();
  }

  tick(classIndex = 0): void {
    if (classIndex < this.worstClass) this.outOfOrder++;
    else this.worstClass = classIndex;
    if (++this.count === this.target) this.reached();
  }

  /** Resolves at the target; rejects when nothing is counted for `STALL_MS` (a hung drain). */
  async finished(what: string): Promise<void> {
    let seen = this.count;
    let lastProgress = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        const now = performance.now();
        if (this.count !== seen) {
          seen = this.count;
          lastProgress = now;
        } else if (now - lastProgress > STALL_MS) {
          reject(new Error(`${what}: no progress for ${STALL_MS} ms at ${seen}/${this.target}`));
        }
      }, 1000);
    });
    try {
      await Promise.race([this.done, stalled]);
    } finally {
      clearInterval(timer);
    }
  }
}

/** One run of one system. Both phases are timed apart; the file or queue is verified. */
interface Measurement {
  enqueueSeconds: number;
  drainSeconds: number;
  /**
   * CPU time of enqueue + drain: this process (user + system), plus redis-server's for BullMQ.
   * On a shared machine it moves far less than wall time does.
   */
  cpuSeconds: number;
  /** Jobs handled after a job of a less urgent class. */
  outOfOrder: number;
}

/** CPU seconds (user + system) this process has used so far. */
function processCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// reqtrack

function classOfPriority(priority: number): number {
  const index = CLASSES.findIndex((c) => c.reqtrack === priority);
  if (index < 0) throw new Error(`unexpected priority ${priority}`);
  return index;
}

/**
 * Enqueues and drains `jobs` through a tracker on `storage` (a fresh SQLite file or a
 * PostgreSQL URL with a fresh schema), then has `verify` check the store after it closed.
 * `serverCpuSeconds` adds the database server's CPU time when it runs apart (PostgreSQL).
 */
async function runReqtrack(
  storage: string,
  jobs: number,
  verify: (handlerCalls: number) => Promise<void>,
  serverCpuSeconds: (() => number) | null = null,
): Promise<Measurement> {
  // The watchdog timer is off (0): nothing here can expire, and a sweep in the middle of the
  // drain would only add noise. Everything else is createTracker's defaults.
  const tracker = await createTracker({
    storage,
    logger: pino({ level: "silent" }),
    watchdogIntervalMs: 0,
  });
  const cpuNow = () => processCpuSeconds() + (serverCpuSeconds?.() ?? 0);
  const handled = new Countdown(jobs);
  let enqueueSeconds: number;
  let drainSeconds: number;
  let cpuSeconds: number;
  try {
    let next = 0;
    const caller = async () => {
      while (next < jobs) await tracker.createRequest(requestInput(next++));
    };
    let cpuBefore = cpuNow();
    let started = performance.now();
    await Promise.all(Array.from({ length: ENQUEUE_CALLERS }, () => caller()));
    await tracker.flush();
    enqueueSeconds = (performance.now() - started) / 1000;
    cpuSeconds = cpuNow() - cpuBefore;

    const depth = await tracker.queueDepth();
    CLASSES.forEach(({ lane }, i) => {
      if (depth[lane] !== jobsOfClass(jobs, i)) {
        throw new Error(`queue depth ${lane}: ${depth[lane]}, expected ${jobsOfClass(jobs, i)}`);
      }
    });

    cpuBefore = cpuNow();
    started = performance.now();
    const worker = tracker.work({ concurrency: DRAIN_CONCURRENCY, pollMs: POLL_MS }, async (r) => {
      handled.tick(classOfPriority(r.priority));
      return null;
    });
    try {
      await handled.finished("reqtrack drain (handler calls)");
    } finally {
      // Waits for the last completions to commit.
      await worker.stop();
    }
    await tracker.flush();
    drainSeconds = (performance.now() - started) / 1000;
    cpuSeconds += cpuNow() - cpuBefore;

    const left = await tracker.queueDepth();
    const running = await tracker.activeRequests();
    if (left.total !== 0 || running.length !== 0) {
      throw new Error(`after the drain: ${left.total} pending, ${running.length} running`);
    }
  } finally {
    await tracker.close();
  }
  await verify(handled.count);
  return { enqueueSeconds, drainSeconds, cpuSeconds, outOfOrder: handled.outOfOrder };
}

/** Checks a SQLite file through its own better-sqlite3 connection. */
async function verifySqlite(path: string, jobs: number, handlerCalls: number): Promise<void> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const count = (query: string) => db.prepare(query).pluck().get() as number;
    failOnMismatch("reqtrack", await reqtrackChecks(count, jobs, handlerCalls));
  } finally {
    db.close();
  }
}

/** Checks a PostgreSQL schema through a connection of its own. */
async function verifyPostgres(url: string, jobs: number, handlerCalls: number): Promise<void> {
  await onConnection(url, async (client) => {
    const checks = await reqtrackChecks(numberOf(client), jobs, handlerCalls);
    failOnMismatch("reqtrack on PostgreSQL", checks);
  });
}

/**
 * `jobs` requests, each completed exactly once: one attempt, one "pending -> running" and one
 * "running -> completed" event, and no other status change. The SQL runs on both stores.
 */
async function reqtrackChecks(
  count: (query: string) => Promise<number> | number,
  jobs: number,
  handlerCalls: number,
): Promise<Check[]> {
  const transitions = (message: string) =>
    `FROM events WHERE type = 'status_changed' AND message = '${message}'`;
  const checks: Check[] = [
    ["handler calls", handlerCalls, jobs],
    ["requests rows", await count("SELECT count(*) FROM requests"), jobs],
    [
      "completed requests with attempts = 1",
      await count("SELECT count(*) FROM requests WHERE status = 'completed' AND attempts = 1"),
      jobs,
    ],
  ];
  for (const [i, { lane }] of CLASSES.entries()) {
    checks.push([
      `completed requests in lane ${lane}`,
      await count(`SELECT count(*) FROM requests WHERE status = 'completed' AND lane = '${lane}'`),
      jobsOfClass(jobs, i),
    ]);
  }
  for (const transition of ["pending -> running", "running -> completed"]) {
    checks.push(
      [`'${transition}' events`, await count(`SELECT count(*) ${transitions(transition)}`), jobs],
      [
        `requests with a '${transition}' event`,
        await count(`SELECT count(DISTINCT request_id) ${transitions(transition)}`),
        jobs,
      ],
    );
  }
  checks.push([
    "status_changed events in all",
    await count("SELECT count(*) FROM events WHERE type = 'status_changed'"),
    2 * jobs,
  ]);
  return checks;
}

// ---------------------------------------------------------------------------------------------
// BullMQ on the local Redis

const REDIS_HOST = "127.0.0.1";
const REDIS_PORT = 6379;
/** BullMQ workers need maxRetriesPerRequest: null. */
const BULL_CONNECTION = { host: REDIS_HOST, port: REDIS_PORT, maxRetriesPerRequest: null };
/** The CI's way of starting Redis when none answers (no persistence). */
const REDIS_SERVER_ARGS = [
  ...["--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", String(REDIS_PORT)],
  ...["--save", "", "--appendonly", "no"],
  ...["--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"],
];
const BULLMQ_VERSION = (
  createRequire(import.meta.url)("bullmq/package.json") as { version: string }
).version;

type RedisStatus =
  | { available: true; version: string; startedByBenchmark: boolean }
  | { available: false; reason: string };

/** The server's version, or null when nothing answers a PING within a second. */
async function redisVersion(): Promise<string | null> {
  const client = new Redis({
    host: REDIS_HOST,
    port: REDIS_PORT,
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
    const info = await client.info("server");
    return /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

/** Uses the Redis at 127.0.0.1:6379, starting `redis-server` when none answers. */
async function ensureRedis(): Promise<RedisStatus> {
  const running = await redisVersion();
  if (running !== null) return { available: true, version: running, startedByBenchmark: false };
  progress(`no Redis answers at ${REDIS_HOST}:${REDIS_PORT}; starting redis-server`);
  const started = spawnSync("redis-server", REDIS_SERVER_ARGS, {
    stdio: "ignore",
    timeout: 10_000,
  });
  if (started.error || started.status !== 0) {
    const why = started.error?.message ?? `exit status ${started.status}`;
    return {
      available: false,
      reason: `no Redis at ${REDIS_HOST}:${REDIS_PORT} and redis-server could not be started (${why})`,
    };
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    await sleep(100);
    const version = await redisVersion();
    if (version !== null) return { available: true, version, startedByBenchmark: true };
  }
  return { available: false, reason: "redis-server was started but did not answer within 5 s" };
}

/** CPU seconds (user + system) redis-server has used so far, from INFO. */
async function redisCpuSeconds(client: Redis): Promise<number> {
  const info = await client.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, "m").exec(info)?.[1]);
  const seconds = field("used_cpu_user") + field("used_cpu_sys");
  if (!Number.isFinite(seconds)) throw new Error("INFO cpu: no used_cpu_user/used_cpu_sys");
  return seconds;
}

let bullQueues = 0;

async function runBullmq(jobs: number): Promise<Measurement> {
  const name = `reqtrack-bench-${process.pid}-${Date.now()}-${++bullQueues}`;
  const queue = new Queue<BullData, null>(name, { connection: BULL_CONNECTION });
  // Its own connection, for INFO only: the CPU time Redis spends on BullMQ's behalf.
  const stats = new Redis({ host: REDIS_HOST, port: REDIS_PORT, maxRetriesPerRequest: null });
  const cpuNow = async () => processCpuSeconds() + (await redisCpuSeconds(stats));
  try {
    await queue.waitUntilReady();
    let cpuBefore = await cpuNow();
    let started = performance.now();
    for (let first = 0; first < jobs; first += BULL_CHUNK) {
      const size = Math.min(BULL_CHUNK, jobs - first);
      await queue.addBulk(Array.from({ length: size }, (_, i) => bullJob(first + i)));
    }
    const enqueueSeconds = (performance.now() - started) / 1000;
    let cpuSeconds = (await cpuNow()) - cpuBefore;

    const waiting = await queue.getJobCounts("prioritized", "wait");
    if (waiting.prioritized !== jobs || waiting.wait !== 0) {
      throw new Error(
        `BullMQ after addBulk: ${JSON.stringify(waiting)}, expected ${jobs} prioritized`,
      );
    }

    const handled = new Countdown(jobs);
    const completed = new Countdown(jobs);
    const completedIds = new Set<string>();
    let failed = 0;
    const worker = new BullWorker<BullData, null>(
      name,
      async (job: Job<BullData, null>) => {
        handled.tick(classOf(job.data.n));
        return null;
      },
      { connection: BULL_CONNECTION, concurrency: DRAIN_CONCURRENCY, autorun: false },
    );
    worker.on("completed", (job) => {
      if (job.id !== undefined) completedIds.add(job.id);
      completed.tick();
    });
    worker.on("failed", () => failed++);
    worker.on("error", (error) => progress(`BullMQ worker error: ${String(error)}`));
    let drainSeconds: number;
    let running: Promise<void> = Promise.resolve();
    let runError: unknown = null;
    try {
      // Connections are made before the clock starts, as the tracker is opened before it.
      await worker.waitUntilReady();
      cpuBefore = await cpuNow();
      started = performance.now();
      running = worker.run().catch((error: unknown) => {
        runError = error;
      });
      await completed.finished("BullMQ drain ('completed' events)");
      drainSeconds = (performance.now() - started) / 1000;
      cpuSeconds += (await cpuNow()) - cpuBefore;
    } finally {
      await worker.close();
      await running;
    }
    if (runError !== null) throw runError;

    const counts = await queue.getJobCounts();
    const others = Object.entries(counts).filter(([state, n]) => state !== "completed" && n !== 0);
    failOnMismatch("BullMQ", [
      ["processor calls", handled.count, jobs],
      ["'completed' events", completed.count, jobs],
      ["distinct completed job ids", completedIds.size, jobs],
      ["'failed' events", failed, 0],
      ["completed jobs (getJobCounts)", counts.completed ?? 0, jobs],
      ...others.map(([state, n]): [string, number, number] => [`${state} jobs`, n, 0]),
    ]);
    return { enqueueSeconds, drainSeconds, cpuSeconds, outOfOrder: handled.outOfOrder };
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
    stats.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

interface System {
  key: "reqtrack" | "bullmq";
  label: string;
  run(jobs: number): Promise<Measurement>;
}

/** reqtrack on one storage, and what the report says about it. */
interface ReqtrackSide {
  system: System;
  goalRatio: number;
  parameters: Record<string, unknown>;
  /** Where the work happens, for the note that compares it with Redis. */
  whereWorkRuns: string;
  /** Whose CPU time the CPU column counts for reqtrack. */
  cpuCounted: string;
  close(): void;
}

interface Settings {
  jobs: number;
  rounds: number;
  warmupJobs: number;
}

interface Run extends Measurement {
  enqueuePerSecond: number;
  drainPerSecond: number;
  endToEndPerSecond: number;
  cpuMicrosPerJob: number;
}

interface Summary {
  system: System;
  runs: Run[];
  enqueuePerSecond: number;
  drainPerSecond: number;
  endToEndPerSecond: number;
  cpuMicrosPerJob: number;
}

async function run(options: RunOptions): Promise<BenchmarkReport> {
  const jobs = envPositiveInt("BENCH_JOBS", 100_000);
  const settings: Settings = {
    jobs,
    rounds: envPositiveInt("BENCH_ROUNDS", 1),
    warmupJobs: Math.min(5_000, jobs),
  };
  const side =
    options.postgresUrl === undefined ? sqliteSide() : await postgresSide(options.postgresUrl);
  try {
    const systems: System[] = [side.system];
    const redis = await ensureRedis();
    if (redis.available) {
      systems.push({
        key: "bullmq",
        label: `BullMQ ${BULLMQ_VERSION} (Redis)`,
        run: (n) => runBullmq(n),
      });
    } else {
      progress(`BullMQ SKIPPED: ${redis.reason}`);
    }
    return report(settings, side, redis, await measureSystems(settings, systems));
  } finally {
    side.close();
  }
}

function sqliteSide(): ReqtrackSide {
  const dir = mkdtempSync(join(tmpdir(), "reqtrack-bench-"));
  let files = 0;
  return {
    system: {
      key: "reqtrack",
      label: "reqtrack (SQLite file)",
      async run(n) {
        const path = join(dir, `queue-${++files}.db`);
        return runReqtrack(path, n, (calls) => verifySqlite(path, n, calls));
      },
    },
    goalRatio: SQLITE_GOAL_RATIO,
    parameters: { storage: `fresh SQLite file per run in ${tmpdir()} (WAL, synchronous NORMAL)` },
    whereWorkRuns: "reqtrack does all of it, SQLite included, on this process's main thread.",
    cpuCounted: "this process's user + system time",
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresSide(url: string): Promise<ReqtrackSide> {
  const server = await postgresServer(url);
  const serverCpu = await postgresCpuReader(url);
  return {
    system: {
      key: "reqtrack",
      label: "reqtrack (PostgreSQL)",
      run: (n) =>
        withFreshSchema(url, "queue", (schema) =>
          runReqtrack(schema.url, n, (calls) => verifyPostgres(schema.url, n, calls), serverCpu),
        ),
    },
    goalRatio: POSTGRES_GOAL_RATIO,
    parameters: {
      storage: "PostgreSQL, a fresh schema per run (search_path in the URL), dropped afterwards",
      server,
      serverCpuCounted: serverCpu !== null,
    },
    whereWorkRuns:
      "reqtrack's share runs on this process's main thread, PostgreSQL's in its own processes.",
    cpuCounted:
      serverCpu === null
        ? "this process's user + system time (the PostgreSQL server is not on this machine: " +
          "its CPU time is NOT counted)"
        : "this process's user + system time, plus the PostgreSQL server's (all its processes, " +
          "from /proc: anything else the server does meanwhile counts too)",
    close() {},
  };
}

/** Warms every system up, then runs them `rounds` times, alternating; every run is verified. */
async function measureSystems(settings: Settings, systems: System[]): Promise<Summary[]> {
  const runs = new Map<System, Run[]>(systems.map((system) => [system, []]));
  const measure = async (system: System, jobs: number): Promise<Run> => {
    const measured = await system.run(jobs);
    return {
      ...measured,
      enqueuePerSecond: jobs / measured.enqueueSeconds,
      drainPerSecond: jobs / measured.drainSeconds,
      endToEndPerSecond: jobs / (measured.enqueueSeconds + measured.drainSeconds),
      cpuMicrosPerJob: (measured.cpuSeconds * 1e6) / jobs,
    };
  };

  progress(`warming up: ${formatNumber(settings.warmupJobs)} jobs per system`);
  for (const system of systems) await measure(system, settings.warmupJobs);
  for (let round = 0; round < settings.rounds; round++) {
    // Rotate the order each round so that drift on a shared machine spreads over every side.
    for (let i = 0; i < systems.length; i++) {
      const system = systems[(round + i) % systems.length] as System;
      const result = await measure(system, settings.jobs);
      runs.get(system)?.push(result);
      progress(
        `round ${round + 1}/${settings.rounds} ${system.label}: ` +
          `enqueue ${formatNumber(result.enqueueSeconds, 2)} s, ` +
          `drain ${formatNumber(result.drainSeconds, 2)} s, ` +
          `${formatNumber(result.endToEndPerSecond)} jobs/s end to end, ` +
          `${formatNumber(result.cpuMicrosPerJob, 1)} CPU µs/job (verified)`,
      );
    }
  }

  return systems.map((system) => {
    const systemRuns = runs.get(system) ?? [];
    return {
      system,
      runs: systemRuns,
      enqueuePerSecond: median(systemRuns.map((r) => r.enqueuePerSecond)),
      drainPerSecond: median(systemRuns.map((r) => r.drainPerSecond)),
      endToEndPerSecond: median(systemRuns.map((r) => r.endToEndPerSecond)),
      cpuMicrosPerJob: median(systemRuns.map((r) => r.cpuMicrosPerJob)),
    };
  });
}

function report(
  settings: Settings,
  side: ReqtrackSide,
  redis: RedisStatus,
  summary: Summary[],
): BenchmarkReport {
  const { jobs, rounds, warmupJobs } = settings;
  const goal = side.goalRatio;
  const reqtrack = summary.find((s) => s.system.key === "reqtrack");
  const bullmq = summary.find((s) => s.system.key === "bullmq");
  if (!reqtrack) throw new Error("the reqtrack side must run");
  const ratioOf = (
    s: Summary,
    figure: "enqueuePerSecond" | "drainPerSecond" | "endToEndPerSecond",
  ) => (bullmq ? s[figure] / bullmq[figure] : null);
  const ratio = ratioOf(reqtrack, "endToEndPerSecond");
  const priorities = CLASSES.map(
    (c) => `${c.reqtrack} (lane ${c.lane}) -> BullMQ priority ${c.bullmq}`,
  ).join(", ");

  return {
    parameters: {
      jobs,
      rounds,
      statistic:
        rounds === 1
          ? "one run per system (BENCH_ROUNDS default 1: a run is long)"
          : `median of ${rounds} runs per system and figure, systems alternating`,
      warmupJobs,
      priorities: CLASSES,
      priorityMix: "job n has class n % 3: equal shares, interleaved in enqueue order",
      drainConcurrency: DRAIN_CONCURRENCY,
      enqueue: {
        reqtrack: `${ENQUEUE_CALLERS} concurrent callers of createRequest (group commit)`,
        bullmq: `addBulk, ${formatNumber(BULL_CHUNK)} jobs per call, one call at a time`,
      },
      drain: {
        reqtrack:
          `tracker.work({ concurrency: ${DRAIN_CONCURRENCY}, pollMs: ${POLL_MS} }, async () => null); ` +
          "clock stops when worker.stop() has resolved after the last handler call",
        bullmq:
          `new Worker(name, async () => null, { concurrency: ${DRAIN_CONCURRENCY} }); ` +
          "clock stops at the last 'completed' event",
      },
      ...side.parameters,
      reqtrackOptions:
        'createTracker defaults, plus logger pino({ level: "silent" }) and watchdogIntervalMs: 0',
      bullmqVersion: BULLMQ_VERSION,
      redis: redis.available
        ? {
            address: `${REDIS_HOST}:${REDIS_PORT}`,
            version: redis.version,
            startedByBenchmark: redis.startedByBenchmark,
          }
        : { skipped: redis.reason },
      bullmqOptions:
        "Queue and Worker defaults (completed jobs kept, 1 attempt), unique queue name per run, obliterated afterwards",
    },
    table: {
      columns: [
        { title: "system", align: "left" },
        { title: "enqueue jobs/s", align: "right" },
        { title: "drain jobs/s", align: "right" },
        { title: "end-to-end jobs/s", align: "right" },
        { title: "vs BullMQ", align: "right" },
        { title: "CPU µs/job", align: "right" },
        { title: "runs (end-to-end jobs/s)", align: "left" },
      ],
      rows: summary.map((s) => {
        const versus = ratioOf(s, "endToEndPerSecond");
        return [
          s.system.label,
          formatNumber(s.enqueuePerSecond),
          formatNumber(s.drainPerSecond),
          formatNumber(s.endToEndPerSecond),
          versus === null ? "n/a" : `${formatNumber(versus, 2)}x`,
          formatNumber(s.cpuMicrosPerJob, 1),
          s.runs.map((r) => formatNumber(r.endToEndPerSecond)).join(" / "),
        ];
      }),
    },
    notes: [
      `${formatNumber(jobs)} jobs per run, priorities ${priorities}; ` +
        (rounds === 1
          ? `one run per system (BENCH_ROUNDS=1, the default here) after a ${formatNumber(warmupJobs)}-job warm-up.`
          : `median of ${rounds} alternating runs after a ${formatNumber(warmupJobs)}-job warm-up.`),
      `Enqueue: reqtrack ${ENQUEUE_CALLERS} concurrent createRequest callers; BullMQ addBulk in ` +
        `chunks of ${formatNumber(BULL_CHUNK)}. Drain: both at concurrency ${DRAIN_CONCURRENCY}, ` +
        "empty handler; end to end = jobs / (enqueue s + drain s).",
      "reqtrack: logging OFF (pino level silent), watchdog timer off (watchdogIntervalMs: 0), " +
        `pollMs ${POLL_MS}; every run verified on its own connection (each request completed ` +
        "once: attempts = 1, one 'pending -> running' and one 'running -> completed' event).",
      bullmq
        ? "BullMQ: every run verified (processor calls, 'completed' events, distinct ids and " +
          "getJobCounts all equal the job count; nothing failed or left over). Redis does its " +
          `share of the work in its own process (another core); ${side.whereWorkRuns}`
        : `BullMQ SKIPPED: ${redis.available ? "did not run" : redis.reason}.`,
      "CPU µs/job: CPU time of enqueue + drain per job; for BullMQ this process's user + " +
        "system time plus redis-server's (INFO cpu), for reqtrack " +
        `${side.cpuCounted}. Wall-clock rates on a shared machine move with its load; CPU time ` +
        "per job much less.",
      `Jobs handled out of priority order: ${summary
        .map((s) => `${s.system.key} ${s.runs.map((r) => r.outOfOrder).join("/")}`)
        .join(", ")}.`,
      ratio === null
        ? `ratio reqtrack / BullMQ: n/a (BullMQ did not run; goal >= ${goal}x)`
        : `ratio reqtrack / BullMQ end to end = ${formatNumber(ratio, 2)}x ` +
          `(enqueue ${formatNumber(ratioOf(reqtrack, "enqueuePerSecond") ?? 0, 2)}x, ` +
          `drain ${formatNumber(ratioOf(reqtrack, "drainPerSecond") ?? 0, 2)}x; ` +
          `goal >= ${formatNumber(goal, 1)}x: ${ratio >= goal ? "met" : "NOT met"})`,
    ],
    figures: {
      ratio,
      enqueueRatio: ratioOf(reqtrack, "enqueuePerSecond"),
      drainRatio: ratioOf(reqtrack, "drainPerSecond"),
      goalRatio: goal,
      goalMet: ratio === null ? null : ratio >= goal,
      bullmqSkipped: redis.available ? null : redis.reason,
      systems: Object.fromEntries(
        summary.map((s) => [
          s.system.key,
          {
            label: s.system.label,
            medianEnqueuePerSecond: s.enqueuePerSecond,
            medianDrainPerSecond: s.drainPerSecond,
            medianCpuMicrosPerJob: s.cpuMicrosPerJob,
            medianEndToEndPerSecond: s.endToEndPerSecond,
            ratioToBullmq: ratioOf(s, "endToEndPerSecond"),
            runs: s.runs,
          },
        ]),
      ),
    },
  };
}

export const benchmark: Benchmark = {
  name: "queue",
  description: "enqueue with three priorities, drain with work() at concurrency 50, vs BullMQ",
  storages: ["sqlite", "postgres"],
  run,
};

if (isMain(import.meta.url)) await runStandalone(benchmark);
