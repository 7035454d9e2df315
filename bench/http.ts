/**
 * HTTP benchmark: autocannon on loopback against the reqtrack server (buildApp on a SQLite
 * file, admin API key sent as Bearer, so authentication is on the measured path):
 * `GET /api/v1/requests/:id` over a pool of seeded ids (and on one id), and
 * `POST /api/v1/ingest` with 100-op batches of unique op ids; in the same run, a bare Fastify
 * route returning a small JSON object is the baseline, with the same autocannon settings.
 *
 *   npm run bench -- http                              (writes bench/results/http.json)
 *   BENCH_HTTP_SECONDS=5 BENCH_ROUNDS=1 npm run bench -- http
 *   BENCH_HTTP_VARIANTS=ingest node --cpu-prof --import tsx bench/http.ts   (profiling)
 *
 * autocannon runs in this process through its programmatic API, in one worker thread of its
 * own (`workers: 1`), so the client does not share the server's event loop; it does share the
 * machine's cores with the server thread, SQLite and the garbage collector.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import autocannon from "autocannon";
import Database from "better-sqlite3";
import Fastify, { type FastifyInstance } from "fastify";
import { pino } from "pino";
import { createTracker, newRequestId, type Tracker } from "../src/index.js";
import { buildApp } from "../src/server/app.js";
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

/** GET >= this times the bare route's req/s. */
const GOAL_GET_RATIO = 0.5;
/** Ingest: ops per second, counting only ops of answered POSTs. */
const GOAL_INGEST_OPS = 25_000;
const WARMUP_SECONDS = 2;
/** Seeded ids the rotating GET cycles through (every connection walks the same shuffled list). */
const GET_ID_POOL = 1_000;
const SEED_OPS_PER_CALL = 1_000;
/** Linux reports thread CPU time in USER_HZ ticks, 100 a second. */
const CLOCK_TICK_MICROS = 10_000;

// ---------------------------------------------------------------------------------------------
// What is sent

const PROMPT = "Make a 30 second video about the history of the bicycle, upbeat and colourful";
const INPUT = { prompt: PROMPT, parameters: { durationSeconds: 30, style: "cinematic" } };
const KIND = "video_generation";
const LLM_CALL = {
  type: "llm_call",
  message: "script drafted",
  data: { model: "gpt-4o", promptTokens: 812, completionTokens: 422 },
};
const COST = { service: "openai", amountUsd: 0.0123, usage: { tokens: 1234 } };
const COST_MICROS = Math.round(COST.amountUsd * 1_000_000);
const RESULT = { url: "https://cdn.example.com/videos/bicycle.mp4", durationSeconds: 30 };
const BARE_BODY = { id: "req_0193b0f2c3d47e8f9a0b1c2d3e4f5a6b", status: "completed" };

/** One lifecycle in an ingest POST: create, start, event, cost, complete. */
const INGEST_OPS_PER_LIFECYCLE = 5;
const INGEST_LIFECYCLES_PER_POST = 20;
const INGEST_OPS_PER_POST = INGEST_OPS_PER_LIFECYCLE * INGEST_LIFECYCLES_PER_POST;
/** Rows one ingested lifecycle leaves (src/store/sqlite/sqlite-writer.ts), checked after each run. */
const INGEST_ROWS_PER_LIFECYCLE = {
  requests: 1,
  events: 4, // request_created, status_changed x2, llm_call
  costs: 1,
  stages: 0,
  applied_ops: INGEST_OPS_PER_LIFECYCLE,
};
/**
 * autocannon (`idReplacement`) puts one fresh hyperid per POST wherever `[<id>]` appears, so
 * every POST carries new request ids and op ids; the rest of the body is fixed.
 */
const ID = "[<id>]";
const INGEST_PREFIX = "req_hb_";

function ingestBody(): string {
  const ops: object[] = [];
  for (let n = 0; n < INGEST_LIFECYCLES_PER_POST; n++) {
    const requestId = `${INGEST_PREFIX}${ID}_${n}`;
    const opId = (step: string) => `hb_${ID}_${n}_${step}`;
    ops.push(
      {
        opId: opId("c"),
        type: "create",
        request: { id: requestId, userId: `user-${n}`, kind: KIND, initialMessage: PROMPT },
      },
      { opId: opId("s"), type: "transition", requestId, to: "running", workerId: "http-bench" },
      { opId: opId("e"), type: "event", requestId, event: LLM_CALL },
      { opId: opId("k"), type: "cost", requestId, cost: COST },
      { opId: opId("x"), type: "transition", requestId, to: "completed", result: RESULT },
    );
  }
  if (ops.length !== INGEST_OPS_PER_POST) throw new Error("ingest body has the wrong op count");
  return JSON.stringify({ ops });
}

/** A seeded request: the shape a GET returns (one stage, one cost, an event, a result). */
function seedLifecycle(id: string, n: number): object[] {
  const opId = (step: string) => `seed_${n}_${step}`;
  const stage = "script_generation";
  return [
    {
      opId: opId("c"),
      type: "create",
      request: { id, userId: `user-${n % 500}`, kind: KIND, initialMessage: PROMPT, input: INPUT },
    },
    { opId: opId("s"), type: "transition", requestId: id, to: "running", workerId: "seed" },
    { opId: opId("ss"), type: "stage", requestId: id, stage, action: "start" },
    { opId: opId("e"), type: "event", requestId: id, event: { ...LLM_CALL, stage } },
    { opId: opId("k"), type: "cost", requestId: id, cost: { ...COST, stage } },
    {
      opId: opId("sc"),
      type: "stage",
      requestId: id,
      stage,
      action: "complete",
      output: { scenes: 6, words: 142 },
    },
    { opId: opId("x"), type: "transition", requestId: id, to: "completed", result: RESULT },
  ];
}

// ---------------------------------------------------------------------------------------------
// The servers

interface Servers {
  tracker: Tracker;
  dbPath: string;
  reqtrackUrl: string;
  /** The same app with its detail cache off: every GET reads the store. */
  uncachedUrl: string;
  bareUrl: string;
  apiKey: string;
  getIds: string[];
  close(): Promise<void>;
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return `http://127.0.0.1:${address.port}`;
}

async function startServers(dir: string, seedRequests: number): Promise<Servers> {
  const dbPath = join(dir, "reqtrack.db");
  const tracker = await createTracker({
    storage: dbPath,
    logger: pino({ level: "silent" }),
    watchdogIntervalMs: 0,
  });
  const closing: (() => Promise<void>)[] = [() => tracker.close()];
  const close = async () => {
    for (const step of closing.reverse()) await step();
  };
  try {
    progress(`seeding ${formatNumber(seedRequests)} completed requests through tracker.ingest`);
    const ids: string[] = [];
    let pending: object[] = [];
    const ingestPending = async () => {
      const failed = (await tracker.ingest(pending)).find((r) => !r.ok);
      if (failed) throw new Error(`seeding failed: ${JSON.stringify(failed)}`);
      pending = [];
    };
    for (let n = 0; n < seedRequests; n++) {
      const id = newRequestId();
      ids.push(id);
      const lifecycle = seedLifecycle(id, n);
      if (pending.length + lifecycle.length > SEED_OPS_PER_CALL) await ingestPending();
      pending.push(...lifecycle);
    }
    await ingestPending();
    await tracker.flush();

    // The key is made before buildApp, so the server is not open: every call is authenticated.
    const { key } = await tracker.keys.create({ role: "admin", name: "http-bench" });
    const app = await buildApp({ tracker, logger: false });
    closing.push(() => app.close());
    const reqtrackUrl = await listen(app);
    await probeReqtrack(reqtrackUrl, key, ids[0] as string);
    const uncached = await buildApp({ tracker, logger: false, detailCache: false });
    closing.push(() => uncached.close());
    const uncachedUrl = await listen(uncached);
    await probeReqtrack(uncachedUrl, key, ids[0] as string);

    const bare = Fastify({ logger: false });
    bare.get("/bare", async () => BARE_BODY);
    closing.push(() => bare.close());
    const bareUrl = await listen(bare);

    return {
      tracker,
      dbPath,
      reqtrackUrl,
      uncachedUrl,
      bareUrl,
      apiKey: key,
      getIds: shuffle(ids).slice(0, GET_ID_POOL),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The measured calls must be what they claim: refused without the key, a full detail with it. */
async function probeReqtrack(url: string, key: string, id: string): Promise<void> {
  const path = `${url}/api/v1/requests/${id}`;
  const anonymous = await fetch(path);
  if (anonymous.status !== 401) {
    throw new Error(`GET without a key answered ${anonymous.status}, expected 401`);
  }
  const answer = await fetch(path, { headers: { authorization: `Bearer ${key}` } });
  const body = (await answer.json()) as { id?: string; stages?: unknown[]; costs?: unknown[] };
  if (
    answer.status !== 200 ||
    body.id !== id ||
    body.stages?.length !== 1 ||
    body.costs?.length !== 1
  ) {
    throw new Error(`GET ${path} answered ${answer.status}: ${JSON.stringify(body)}`);
  }
}

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/**
 * CPU time (µs) this process's main thread (the servers, SQLite included) has used, from
 * /proc (Linux; null elsewhere). Unlike req/s it is not inflated by the client or by other
 * processes on a shared machine, so it shows what one request costs the server.
 */
function mainThreadCpuMicros(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
    return Number.isFinite(ticks) ? ticks * CLOCK_TICK_MICROS : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Checks: the ingest figure counts only what was really stored

interface IngestCounts {
  requests: number;
  completed: number;
  events: number;
  costs: number;
  stages: number;
  appliedOps: number;
  costMicros: number;
}

function countIngested(db: Database.Database): IngestCounts {
  const value = (query: string) => db.prepare(query).pluck().get() as number;
  const mine = `GLOB '${INGEST_PREFIX}*'`;
  return {
    requests: value(`SELECT count(*) FROM requests WHERE id ${mine}`),
    completed: value(
      `SELECT count(*) FROM requests WHERE id ${mine} AND status = 'completed' AND attempts = 1`,
    ),
    events: value(`SELECT count(*) FROM events WHERE request_id ${mine}`),
    costs: value(`SELECT count(*) FROM costs WHERE request_id ${mine}`),
    stages: value(`SELECT count(*) FROM stages WHERE request_id ${mine}`),
    appliedOps: value("SELECT count(*) FROM applied_ops WHERE op_id GLOB 'ingest:-:hb_*'"),
    costMicros: value(`SELECT coalesce(sum(cost_micros), 0) FROM requests WHERE id ${mine}`),
  };
}

/**
 * Waits until the server has finished what autocannon left in flight when it stopped (it
 * closes its sockets, but the server still applies a POST it has read), then counts.
 */
async function settledCounts(servers: Servers, db: Database.Database): Promise<IngestCounts> {
  let last = -1;
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    await servers.tracker.flush();
    const counts = countIngested(db);
    if (counts.appliedOps === last) return counts;
    last = counts.appliedOps;
  }
  throw new Error("ingest did not settle within 10 s after the run");
}

/**
 * Throws unless the rows added during the run are exactly those of whole 100-op POSTs, at
 * least one per answered POST and at most one more per connection (in flight at the stop).
 */
function verifyIngest(before: IngestCounts, after: IngestCounts, answered: number, conns: number) {
  const lifecycles = after.requests - before.requests;
  const delta = (key: keyof IngestCounts) => after[key] - before[key];
  const wrong: string[] = [];
  if (lifecycles % INGEST_LIFECYCLES_PER_POST !== 0) {
    wrong.push(`${lifecycles} lifecycles stored: not whole POSTs of ${INGEST_LIFECYCLES_PER_POST}`);
  }
  const posts = lifecycles / INGEST_LIFECYCLES_PER_POST;
  if (posts < answered || posts > answered + conns) {
    wrong.push(`${posts} POSTs stored, ${answered} answered 2xx (at most ${conns} more allowed)`);
  }
  const expect = (what: string, actual: number, wanted: number) => {
    if (actual !== wanted) wrong.push(`${what}: ${actual}, expected ${wanted}`);
  };
  expect("completed requests", delta("completed"), lifecycles);
  expect("events rows", delta("events"), lifecycles * INGEST_ROWS_PER_LIFECYCLE.events);
  expect("costs rows", delta("costs"), lifecycles * INGEST_ROWS_PER_LIFECYCLE.costs);
  expect("stages rows", delta("stages"), lifecycles * INGEST_ROWS_PER_LIFECYCLE.stages);
  expect(
    "applied_ops rows",
    delta("appliedOps"),
    lifecycles * INGEST_ROWS_PER_LIFECYCLE.applied_ops,
  );
  expect("cost_micros total", delta("costMicros"), lifecycles * COST_MICROS);
  if (wrong.length > 0) {
    throw new Error(`ingest did not store what it claims:\n  ${wrong.join("\n  ")}`);
  }
  return { storedPosts: posts, storedOps: posts * INGEST_OPS_PER_POST };
}

// ---------------------------------------------------------------------------------------------
// The benchmark

interface Settings {
  seconds: number;
  warmupSeconds: number;
  connections: number;
  rounds: number;
  seedRequests: number;
}

interface Variant {
  key: string;
  label: string;
  /** Ops per request, for the ingest variant. */
  opsPerRequest?: number;
  options(servers: Servers): Omit<autocannon.Options, "connections" | "duration" | "workers">;
}

interface Run {
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Main-thread (server) CPU per answered request; null where /proc is missing. */
  serverCpuMicrosPerRequest: number | null;
  opsPerSecond?: number;
  storedPosts?: number;
}

interface Summary {
  variant: Variant;
  runs: Run[];
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMicrosPerRequest: number | null;
  opsPerSecond?: number;
}

const bearer = (servers: Servers) => ({ authorization: `Bearer ${servers.apiKey}` });

const VARIANTS: readonly Variant[] = [
  {
    key: "bare",
    label: "bare Fastify GET (baseline)",
    options: (s) => ({ url: `${s.bareUrl}/bare` }),
  },
  {
    key: "healthz",
    label: "reqtrack GET /healthz (hooks only)",
    options: (s) => ({ url: `${s.reqtrackUrl}/healthz` }),
  },
  {
    key: "get",
    label: `GET /requests/:id (${formatNumber(GET_ID_POOL)} ids)`,
    options: (s) => ({
      url: s.reqtrackUrl,
      headers: bearer(s),
      requests: s.getIds.map((id) => ({ method: "GET", path: `/api/v1/requests/${id}` })),
    }),
  },
  {
    key: "getUncached",
    label: `GET /requests/:id (${formatNumber(GET_ID_POOL)} ids, cache off)`,
    options: (s) => ({
      url: s.uncachedUrl,
      headers: bearer(s),
      requests: s.getIds.map((id) => ({ method: "GET", path: `/api/v1/requests/${id}` })),
    }),
  },
  {
    key: "getOneId",
    label: "GET /requests/:id (one id)",
    options: (s) => ({
      url: `${s.reqtrackUrl}/api/v1/requests/${s.getIds[0] ?? ""}`,
      headers: bearer(s),
    }),
  },
  {
    key: "ingest",
    label: `POST /ingest (${INGEST_OPS_PER_POST} ops)`,
    opsPerRequest: INGEST_OPS_PER_POST,
    options: (s) => ({
      url: `${s.reqtrackUrl}/api/v1/ingest`,
      method: "POST",
      headers: { ...bearer(s), "content-type": "application/json" },
      body: ingestBody(),
      idReplacement: true,
    }),
  },
];

function selectedVariants(): Variant[] {
  const raw = process.env.BENCH_HTTP_VARIANTS;
  if (raw === undefined || raw.trim() === "") return [...VARIANTS];
  const keys = raw.split(",").map((k) => k.trim());
  const unknown = keys.filter((k) => !VARIANTS.some((v) => v.key === k));
  if (unknown.length > 0) {
    throw new Error(
      `BENCH_HTTP_VARIANTS: unknown ${unknown.join(", ")}; known: ${VARIANTS.map((v) => v.key).join(", ")}`,
    );
  }
  return VARIANTS.filter((v) => keys.includes(v.key));
}

async function run(): Promise<BenchmarkReport> {
  const seconds = envPositiveInt("BENCH_HTTP_SECONDS", 10);
  const settings: Settings = {
    seconds,
    warmupSeconds: Math.min(WARMUP_SECONDS, seconds),
    connections: envPositiveInt("BENCH_HTTP_CONNECTIONS", 50),
    rounds: envPositiveInt("BENCH_ROUNDS", 3),
    seedRequests: Math.max(GET_ID_POOL, envPositiveInt("BENCH_HTTP_SEED_REQUESTS", 10_000)),
  };
  const variants = selectedVariants();
  const dir = mkdtempSync(join(tmpdir(), "reqtrack-bench-http-"));
  try {
    const servers = await startServers(dir, settings.seedRequests);
    try {
      return report(settings, await measureVariants(settings, servers, variants));
    } finally {
      await servers.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One autocannon run; every response must be 2xx, ingest runs must check out in the store. */
async function measure(
  settings: Settings,
  servers: Servers,
  db: Database.Database,
  variant: Variant,
  seconds: number,
): Promise<Run> {
  const before = variant.opsPerRequest ? await settledCounts(servers, db) : null;
  const options = variant.options(servers);
  const cpuBefore = mainThreadCpuMicros();
  const result = await autocannon({
    ...options,
    connections: settings.connections,
    duration: seconds,
    workers: 1,
  });
  const cpuAfter = mainThreadCpuMicros();
  const bad = result.errors + result.timeouts + result.non2xx + result.mismatches;
  if (bad > 0 || result["2xx"] === 0) {
    throw new Error(
      `${variant.label}: ${result["2xx"]} 2xx, ${result.non2xx} non-2xx, ` +
        `${result.errors} errors, ${result.timeouts} timeouts; status codes: ` +
        JSON.stringify(result.statusCodeStats),
    );
  }
  const requests = result["2xx"];
  const run: Run = {
    seconds: result.duration,
    requests,
    requestsPerSecond: requests / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    serverCpuMicrosPerRequest:
      cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) / requests,
  };
  if (before !== null && variant.opsPerRequest) {
    const after = await settledCounts(servers, db);
    const stored = verifyIngest(before, after, requests, settings.connections);
    run.opsPerSecond = run.requestsPerSecond * variant.opsPerRequest;
    run.storedPosts = stored.storedPosts;
  }
  return run;
}

/** Warms every variant up, then runs them `rounds` times, order rotating each round. */
async function measureVariants(
  settings: Settings,
  servers: Servers,
  variants: Variant[],
): Promise<Summary[]> {
  const db = new Database(servers.dbPath, { readonly: true, fileMustExist: true });
  const runs = new Map<Variant, Run[]>(variants.map((variant) => [variant, []]));
  try {
    progress(`warming up: ${settings.warmupSeconds} s per variant`);
    for (const variant of variants) {
      await measure(settings, servers, db, variant, settings.warmupSeconds);
    }
    for (let round = 0; round < settings.rounds; round++) {
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(round + i) % variants.length] as Variant;
        const result = await measure(settings, servers, db, variant, settings.seconds);
        runs.get(variant)?.push(result);
        const ops =
          result.opsPerSecond === undefined
            ? ""
            : `, ${formatNumber(result.opsPerSecond)} ops/s (verified in the store)`;
        progress(
          `round ${round + 1}/${settings.rounds} ${variant.label}: ` +
            `${formatNumber(result.requestsPerSecond)} req/s, ` +
            `p99 ${formatNumber(result.p99Ms, 1)} ms${ops}`,
        );
      }
    }
  } finally {
    db.close();
  }
  return variants.map((variant) => {
    const variantRuns = runs.get(variant) ?? [];
    const summary: Summary = {
      variant,
      runs: variantRuns,
      requestsPerSecond: median(variantRuns.map((r) => r.requestsPerSecond)),
      p50Ms: median(variantRuns.map((r) => r.p50Ms)),
      p99Ms: median(variantRuns.map((r) => r.p99Ms)),
      serverCpuMicrosPerRequest: variantRuns.some((r) => r.serverCpuMicrosPerRequest === null)
        ? null
        : median(variantRuns.map((r) => r.serverCpuMicrosPerRequest ?? 0)),
    };
    if (variant.opsPerRequest) {
      summary.opsPerSecond = median(variantRuns.map((r) => r.opsPerSecond ?? 0));
    }
    return summary;
  });
}

function report(settings: Settings, summary: Summary[]): BenchmarkReport {
  const { seconds, warmupSeconds, connections, rounds, seedRequests } = settings;
  const bare = summary.find((s) => s.variant.key === "bare");
  // Request rates compare only between GETs; an ingest POST carries 100 ops.
  const ratioOf = (s: Summary) =>
    bare && !s.variant.opsPerRequest ? s.requestsPerSecond / bare.requestsPerSecond : null;
  const get = summary.find((s) => s.variant.key === "get");
  const ingest = summary.find((s) => s.variant.key === "ingest");
  const getRatio = get ? ratioOf(get) : null;
  // Runs of one round are close in time, so their ratio is less exposed to drift on the machine.
  const getRatioPerRound =
    get && bare
      ? get.runs.map((r, i) => r.requestsPerSecond / (bare.runs[i]?.requestsPerSecond ?? NaN))
      : [];
  const getMet = getRatio === null ? null : getRatio >= GOAL_GET_RATIO;
  const ingestOps = ingest?.opsPerSecond ?? null;
  const ingestMet = ingestOps === null ? null : ingestOps >= GOAL_INGEST_OPS;
  const metText = (met: boolean | null) => (met === null ? "-" : met ? "yes" : "NO");

  const goalOf = (s: Summary): [string, string] => {
    if (s.variant.key === "get") return [`>= ${GOAL_GET_RATIO}x bare`, metText(getMet)];
    if (s.variant.key === "ingest") {
      return [`>= ${formatNumber(GOAL_INGEST_OPS)} ops/s`, metText(ingestMet)];
    }
    return ["", ""];
  };

  const fastifyVersion = (
    createRequire(import.meta.url)("fastify/package.json") as { version: string }
  ).version;
  // Each `[<id>]` becomes a 33-character hyperid.
  const template = ingestBody();
  const bodyBytes = Buffer.byteLength(template) + 27 * template.split(ID).length - 27;

  const notes = [
    `autocannon ${connections} connections, ${seconds} s per run, pipelining 1, in this process ` +
      "(programmatic API) on one worker thread: client and server share the machine's cores.",
    `median of ${rounds} rounds per variant, order rotating each round, after a ` +
      `${warmupSeconds} s warm-up of each; req/s counts 2xx answers only (any other answer fails the run).`,
    "srv CPU µs/req: CPU time of the server thread (Fastify, reqtrack, SQLite; not the client " +
      "or GC helper threads) per answered request, from /proc; steadier than req/s on a shared machine.",
    "reqtrack calls carry `Authorization: Bearer <admin key>`: authentication (SHA-256 of the " +
      "key, 5 s verify cache) is on the measured path; /healthz and the bare route have none.",
    `store: SQLite file (WAL) seeded with ${formatNumber(seedRequests)} completed requests ` +
      "(1 stage, 1 cost, 6 events each); logger silent, watchdog off.",
    `GET (${formatNumber(GET_ID_POOL)} ids): each connection cycles through the same shuffled ` +
      "list of seeded ids; (one id) repeats a single id. The detail cache (1,024 entries, " +
      "src/server/detail-cache.ts) holds the whole pool, and nothing is written while a GET " +
      "variant runs, so its reads hit; (cache off) is a second app on the same tracker with " +
      "`detailCache: false`, every GET reading the store.",
    `ingest: ${INGEST_OPS_PER_POST} ops per POST (${INGEST_LIFECYCLES_PER_POST} lifecycles x ` +
      "create, start, event, cost, complete) with fresh request and op ids per POST; " +
      "ops/s = 2xx POSTs/s x 100; after every run the store is checked to hold exactly the rows " +
      "of whole POSTs, at least one per answered POST.",
  ];
  if (getRatio !== null) {
    notes.push(
      `GET / bare = ${formatNumber(getRatio, 2)} (goal >= ${GOAL_GET_RATIO}: ${getMet ? "met" : "NOT met"}); ` +
        `per round: ${getRatioPerRound.map((r) => formatNumber(r, 2)).join(" / ")}`,
    );
  }
  if (ingestOps !== null) {
    notes.push(
      `ingest = ${formatNumber(ingestOps)} ops/s ` +
        `(goal >= ${formatNumber(GOAL_INGEST_OPS)}: ${ingestMet ? "met" : "NOT met"})`,
    );
  }

  return {
    parameters: {
      tool: "autocannon (programmatic API, workers: 1)",
      connections,
      secondsPerRun: seconds,
      warmupSecondsPerVariant: warmupSeconds,
      rounds,
      statistic: `median of ${rounds} runs per variant, order rotating each round`,
      pipelining: 1,
      host: "127.0.0.1 (loopback)",
      fastify: fastifyVersion,
      auth: "Bearer admin API key (tracker.keys.create({ role: 'admin' }))",
      storage: `SQLite file in ${tmpdir()}, journal_mode WAL, synchronous NORMAL`,
      trackerOptions: "logger pino silent, watchdogIntervalMs 0",
      appOptions: "buildApp({ tracker, logger: false })",
      seedRequests,
      getIdPool: GET_ID_POOL,
      ingestOpsPerPost: INGEST_OPS_PER_POST,
      ingestBodyBytes: bodyBytes,
      ingestRowsPerLifecycle: INGEST_ROWS_PER_LIFECYCLE,
      bareRoute: `GET /bare -> ${JSON.stringify(BARE_BODY)}`,
    },
    table: {
      columns: [
        { title: "variant", align: "left" },
        { title: "req/s", align: "right" },
        { title: "p50 ms", align: "right" },
        { title: "p99 ms", align: "right" },
        { title: "vs bare", align: "right" },
        { title: "srv CPU µs/req", align: "right" },
        { title: "ops/s", align: "right" },
        { title: "goal", align: "left" },
        { title: "met?", align: "left" },
        { title: "runs (req/s)", align: "left" },
      ],
      rows: summary.map((s) => {
        const ratio = ratioOf(s);
        return [
          s.variant.label,
          formatNumber(s.requestsPerSecond),
          formatNumber(s.p50Ms, 1),
          formatNumber(s.p99Ms, 1),
          ratio === null ? "-" : formatNumber(ratio, 2),
          s.serverCpuMicrosPerRequest === null ? "-" : formatNumber(s.serverCpuMicrosPerRequest),
          s.opsPerSecond === undefined ? "" : formatNumber(s.opsPerSecond),
          ...goalOf(s),
          s.runs.map((r) => formatNumber(r.requestsPerSecond)).join(" / "),
        ];
      }),
    },
    notes,
    figures: {
      getRatio,
      getRatioPerRound,
      goalGetRatio: GOAL_GET_RATIO,
      getGoalMet: getMet,
      ingestOpsPerSecond: ingestOps,
      goalIngestOpsPerSecond: GOAL_INGEST_OPS,
      ingestGoalMet: ingestMet,
      variants: Object.fromEntries(
        summary.map((s) => [
          s.variant.key,
          {
            label: s.variant.label,
            medianRequestsPerSecond: s.requestsPerSecond,
            medianP50Ms: s.p50Ms,
            medianP99Ms: s.p99Ms,
            medianServerCpuMicrosPerRequest: s.serverCpuMicrosPerRequest,
            ratioToBare: ratioOf(s),
            ...(s.opsPerSecond === undefined ? {} : { medianOpsPerSecond: s.opsPerSecond }),
            runs: s.runs,
          },
        ]),
      ),
    },
  };
}

export const benchmark: Benchmark = {
  name: "http",
  description: "reqtrack HTTP API (GET detail, 100-op ingest) vs a bare Fastify route",
  // Not on PostgreSQL yet: it seeds and checks its SQLite file through better-sqlite3.
  storages: ["sqlite"],
  run,
};

if (isMain(import.meta.url)) await runStandalone(benchmark);
