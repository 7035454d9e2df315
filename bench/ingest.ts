/**
 * Ingest benchmark: full request lifecycles from concurrent async callers through the public
 * API into a SQLite file, against a raw better-sqlite3 baseline making the same row writes.
 *
 *   npm run bench -- ingest                            (writes bench/results/ingest.json)
 *   BENCH_LIFECYCLES=5000 BENCH_ROUNDS=1 npm run bench -- ingest
 *   node --cpu-prof --import tsx bench/ingest.ts      (standalone, for profiling)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { pino } from "pino";
import {
  createTracker,
  type Logger,
  newRequestId,
  SqliteStore,
  type Tracker,
} from "../src/index.js";
import { SQLITE_MIGRATIONS } from "../src/store/migrations/sqlite.js";
import {
  type Benchmark,
  type BenchmarkReport,
  envPositiveInt,
  formatNumber,
  isMain,
  median,
  progress,
  runBenchmark,
} from "./support/harness.js";

const CONCURRENCY = 100;
const BASELINE_TRANSACTION_ROWS = 1000;
const GOAL_RATIO = 0.5;

// ---------------------------------------------------------------------------------------------
// The lifecycle, once, for both sides

const PROMPT = "Make a 30 second video about the history of the bicycle, upbeat and colourful";
const INPUT = { prompt: PROMPT, parameters: { durationSeconds: 30, style: "cinematic" } };
const KIND = "video_generation";
const SCRIPT = "script_generation";
const RENDER = "video_render";
const SCRIPT_OUTPUT = { scenes: 6, words: 142 };
const RENDER_OUTPUT = { frames: 720, codec: "h264" };
const RESULT = { url: "https://cdn.example.com/videos/bicycle.mp4", durationSeconds: 30 };
const LLM_CALL = {
  type: "llm_call",
  stage: SCRIPT,
  message: "script drafted",
  data: { model: "gpt-4o", promptTokens: 812, completionTokens: 422 },
};
const RENDER_HALF = { type: "render_progress", stage: RENDER, message: "50%", data: { pct: 50 } };
const RENDER_DONE = { type: "render_progress", stage: RENDER, message: "100%", data: { pct: 100 } };
const COST = { service: "openai", amountUsd: 0.0123, usage: { tokens: 1234 }, stage: SCRIPT };
const COST_MICROS = Math.round(COST.amountUsd * 1_000_000);
// Defaults the tracker fills in (src/tracker/options.ts, src/core/lanes.ts).
const DEFAULT_PRIORITY = 0.5;
const DEFAULT_LANE = "normal";
const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_TIMEOUT_MS = 5 * 60_000;

type TableName = "requests" | "events" | "stages" | "costs";

/** One row written by one statement; `event` is the type of an inserted event row. */
interface RowWrite {
  statement: "INSERT" | "UPDATE";
  table: TableName;
  event?: string;
}

/** One lifecycle in flight: what later calls need from earlier ones. */
interface Lifecycle {
  n: number;
  worker: string;
  id: string;
  createdAt: number;
  startedAt: number;
  stageStartedAt: number;
}

/**
 * One API call of the lifecycle: how reqtrack makes it, the rows it writes (read off
 * src/store/sqlite/sqlite-writer.ts; the run checks them against SQLite's own change count)
 * and how the baseline writes those same rows.
 */
interface Step {
  call: string;
  writes: readonly RowWrite[];
  viaTracker(tracker: Tracker, life: Lifecycle): Promise<void>;
  viaSql(sql: RawWriter, life: Lifecycle, at: number): void;
}

const insert = (table: TableName, event?: string): RowWrite =>
  event === undefined ? { statement: "INSERT", table } : { statement: "INSERT", table, event };
const update = (table: TableName): RowWrite => ({ statement: "UPDATE", table });

const statusChange = (from: string, to: string) => JSON.stringify({ from, to, attempt: 1 });

function startStage(stage: string): Step {
  return {
    call: `startStage(${stage})`,
    writes: [insert("stages"), insert("events", "stage_started")],
    viaTracker: (tracker, life) => tracker.startStage(life.id, stage),
    viaSql(sql, life, at) {
      life.stageStartedAt = at;
      sql.write(sql.insertStage, life.id, stage, 1, at);
      sql.event(life.id, at, "stage_started", stage, "info", `Stage ${stage} started`, null);
    },
  };
}

function completeStage(stage: string, output: object): Step {
  const outputText = JSON.stringify(output);
  return {
    call: `completeStage(${stage})`,
    writes: [update("stages"), insert("events", "stage_completed")],
    viaTracker: (tracker, life) => tracker.completeStage(life.id, stage, output),
    viaSql(sql, life, at) {
      const durationMs = at - life.stageStartedAt;
      sql.write(sql.finishStage, {
        id: life.id,
        name: stage,
        attempt: 1,
        status: "completed",
        at,
        durationMs,
        output: outputText,
        errorMessage: null,
        errorDetails: null,
        retryable: null,
      });
      const data = JSON.stringify({ durationMs });
      sql.event(life.id, at, "stage_completed", stage, "info", `Stage ${stage} completed`, data);
    },
  };
}

function logEvent(event: { type: string; stage: string; message: string; data: object }): Step {
  const dataText = JSON.stringify(event.data);
  return {
    call: `logEvent(${event.type})`,
    writes: [insert("events", event.type)],
    viaTracker: (tracker, life) => tracker.logEvent(life.id, event),
    viaSql(sql, life, at) {
      sql.event(life.id, at, event.type, event.stage, "info", event.message, dataText);
    },
  };
}

const INPUT_TEXT = JSON.stringify(INPUT);
const COST_USAGE_TEXT = JSON.stringify(COST.usage);
const RESULT_TEXT = JSON.stringify(RESULT);

const LIFECYCLE: readonly Step[] = [
  {
    call: "createRequest",
    writes: [insert("requests"), insert("events", "request_created")],
    async viaTracker(tracker, life) {
      const request = await tracker.createRequest({
        userId: `user-${life.n % 500}`,
        kind: KIND,
        initialMessage: PROMPT,
        input: INPUT,
      });
      life.id = request.id;
    },
    viaSql(sql, life, at) {
      life.id = newRequestId(at);
      life.createdAt = at;
      sql.write(sql.insertRequest, {
        id: life.id,
        priority: DEFAULT_PRIORITY,
        lane: DEFAULT_LANE,
        userId: `user-${life.n % 500}`,
        channelId: null,
        tenantId: null,
        sessionId: null,
        kind: KIND,
        source: null,
        tags: "[]",
        initialMessage: PROMPT,
        input: INPUT_TEXT,
        intent: null,
        entities: null,
        parentId: null,
        correlationId: null,
        maxAttempts: DEFAULT_MAX_ATTEMPTS,
        timeoutMs: DEFAULT_TIMEOUT_MS,
        deadlineAt: null,
        createdAt: at,
      });
      sql.event(life.id, at, "request_created", null, "info", "Request created", null);
    },
  },
  {
    call: "startRequest",
    writes: [update("requests"), insert("events", "status_changed")],
    viaTracker: (tracker, life) => tracker.startRequest(life.id, life.worker),
    viaSql(sql, life, at) {
      life.startedAt = at;
      sql.write(sql.updateLifecycle, {
        id: life.id,
        status: "running",
        startedAt: at,
        completedAt: null,
        queueMs: at - life.createdAt,
        durationMs: null,
        attempts: 1,
        workerId: life.worker,
        leaseExpiresAt: null,
        result: null,
        errorMessage: null,
        errorStage: null,
        errorDetails: null,
        at,
      });
      const data = statusChange("pending", "running");
      sql.event(life.id, at, "status_changed", null, "info", "pending -> running", data);
    },
  },
  startStage(SCRIPT),
  logEvent(LLM_CALL),
  {
    call: "recordCost",
    writes: [update("requests"), insert("costs")],
    viaTracker: (tracker, life) => tracker.recordCost(life.id, COST),
    viaSql(sql, life, at) {
      sql.write(sql.addCost, COST_MICROS, at, life.id);
      sql.write(sql.insertCost, life.id, at, COST.service, COST_MICROS, COST_USAGE_TEXT, SCRIPT);
    },
  },
  completeStage(SCRIPT, SCRIPT_OUTPUT),
  startStage(RENDER),
  logEvent(RENDER_HALF),
  logEvent(RENDER_DONE),
  completeStage(RENDER, RENDER_OUTPUT),
  {
    call: "completeRequest",
    writes: [update("requests"), insert("events", "status_changed")],
    viaTracker: (tracker, life) => tracker.completeRequest(life.id, RESULT),
    viaSql(sql, life, at) {
      sql.write(sql.updateLifecycle, {
        id: life.id,
        status: "completed",
        startedAt: life.startedAt,
        completedAt: at,
        queueMs: life.startedAt - life.createdAt,
        durationMs: at - life.startedAt,
        attempts: 1,
        workerId: life.worker,
        leaseExpiresAt: null,
        result: RESULT_TEXT,
        errorMessage: null,
        errorStage: null,
        errorDetails: null,
        at,
      });
      const data = statusChange("running", "completed");
      sql.event(life.id, at, "status_changed", null, "info", "running -> completed", data);
    },
  },
];

const ROW_WRITES_PER_LIFECYCLE = LIFECYCLE.reduce((sum, step) => sum + step.writes.length, 0);

function describeWrite(write: RowWrite): string {
  return `${write.statement} ${write.table}${write.event ? ` (${write.event})` : ""}`;
}

/** Rows each table should hold per lifecycle, and event rows per type, from `LIFECYCLE`. */
function expectedRowsPerLifecycle() {
  const tables: Record<TableName, number> = { requests: 0, events: 0, stages: 0, costs: 0 };
  const events = new Map<string, number>();
  for (const write of LIFECYCLE.flatMap((step) => step.writes)) {
    if (write.statement !== "INSERT") continue;
    tables[write.table]++;
    if (write.event) events.set(write.event, (events.get(write.event) ?? 0) + 1);
  }
  return { tables, events };
}

function newLifecycle(n: number, worker: string): Lifecycle {
  return { n, worker, id: "", createdAt: 0, startedAt: 0, stageStartedAt: 0 };
}

// ---------------------------------------------------------------------------------------------
// The two sides

interface Measurement {
  seconds: number;
  /** Rows inserted or updated, as SQLite counts them (total_changes()). */
  rowWrites: number;
}

/** `CONCURRENCY` async callers run lifecycles through the public API until `lifecycles` are done. */
async function runReqtrack(path: string, lifecycles: number, logger: Logger): Promise<Measurement> {
  const tracker = await createTracker({ storage: path, logger });
  try {
    if (!(tracker.store instanceof SqliteStore)) throw new Error("expected a SqliteStore");
    const totalChanges = tracker.store.db.prepare("SELECT total_changes()").pluck();
    const changesBefore = totalChanges.get() as number;

    let next = 0;
    const caller = async (worker: string) => {
      while (next < lifecycles) {
        const life = newLifecycle(next++, worker);
        for (const step of LIFECYCLE) await step.viaTracker(tracker, life);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => caller(`worker-${i}`)));
    await tracker.flush();
    const seconds = (performance.now() - started) / 1000;

    return { seconds, rowWrites: (totalChanges.get() as number) - changesBefore };
  } finally {
    await tracker.close();
  }
}

/**
 * The same INSERT/UPDATE statements as SqliteWriter, prepared once, without the reads,
 * validation, savepoints or promises, committed every `rowsPerTransaction` rows.
 */
class RawWriter {
  readonly insertRequest: Database.Statement;
  readonly updateLifecycle: Database.Statement;
  readonly insertStage: Database.Statement;
  readonly finishStage: Database.Statement;
  readonly insertEvent: Database.Statement;
  readonly insertCost: Database.Statement;
  readonly addCost: Database.Statement;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private uncommitted = 0;

  constructor(
    db: Database.Database,
    private readonly rowsPerTransaction: number,
  ) {
    // SQL text as in src/store/sqlite/sqlite-writer.ts.
    this.insertRequest = db.prepare(`INSERT INTO requests (id, status, priority, lane, user_id,
      channel_id, tenant_id, session_id, kind, source, tags, initial_message, input, intent,
      entities, parent_id, correlation_id, max_attempts, timeout_ms, deadline_at, created_at,
      updated_at) VALUES (@id, 'pending', @priority, @lane, @userId, @channelId, @tenantId,
      @sessionId, @kind, @source, @tags, @initialMessage, @input, @intent, @entities, @parentId,
      @correlationId, @maxAttempts, @timeoutMs, @deadlineAt, @createdAt, @createdAt)
      ON CONFLICT (id) DO NOTHING`);
    this.updateLifecycle = db.prepare(`UPDATE requests SET status = @status,
      started_at = @startedAt, completed_at = @completedAt, queue_ms = @queueMs,
      duration_ms = @durationMs, attempts = @attempts, worker_id = @workerId,
      lease_expires_at = @leaseExpiresAt, result = @result, error_message = @errorMessage,
      error_stage = @errorStage, error_details = @errorDetails, updated_at = @at WHERE id = @id`);
    this.insertStage = db.prepare(`INSERT INTO stages (request_id, name, attempt, status,
      started_at) VALUES (?, ?, ?, 'running', ?)`);
    this.finishStage = db.prepare(`UPDATE stages SET status = @status, completed_at = @at,
      duration_ms = @durationMs, output = @output, error_message = @errorMessage,
      error_details = @errorDetails, retryable = @retryable
      WHERE request_id = @id AND name = @name AND attempt = @attempt`);
    this.insertEvent = db.prepare(`INSERT INTO events (request_id, ts, type, stage, severity,
      message, data) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.insertCost = db.prepare(`INSERT INTO costs (request_id, ts, service, amount_micros,
      usage, stage) VALUES (?, ?, ?, ?, ?, ?)`);
    this.addCost = db.prepare(`UPDATE requests SET cost_micros = cost_micros + ?, updated_at = ?
      WHERE id = ? AND deleted_at IS NULL`);
    this.begin = db.prepare("BEGIN");
    this.commit = db.prepare("COMMIT");
  }

  write(statement: Database.Statement, ...params: unknown[]): void {
    if (this.uncommitted === 0) this.begin.run();
    statement.run(...params);
    if (++this.uncommitted === this.rowsPerTransaction) this.finish();
  }

  event(
    requestId: string,
    at: number,
    type: string,
    stage: string | null,
    severity: string,
    message: string,
    data: string | null,
  ): void {
    this.write(this.insertEvent, requestId, at, type, stage, severity, message, data);
  }

  /** Commits what is left. */
  finish(): void {
    if (this.uncommitted === 0) return;
    this.commit.run();
    this.uncommitted = 0;
  }
}

/** A fresh file with reqtrack's schema and SqliteStore's pragmas. */
function openBaselineDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = OFF");
  db.transaction(() => {
    for (const migration of SQLITE_MIGRATIONS) db.exec(migration.up);
  })();
  return db;
}

/**
 * The same lifecycles, interleaved the way the concurrent callers interleave them: waves of
 * `CONCURRENCY` lifecycles, each wave taking one step at a time.
 */
async function runBaseline(path: string, lifecycles: number): Promise<Measurement> {
  const db = openBaselineDatabase(path);
  try {
    const sql = new RawWriter(db, BASELINE_TRANSACTION_ROWS);
    const totalChanges = db.prepare("SELECT total_changes()").pluck();
    const changesBefore = totalChanges.get() as number;

    const started = performance.now();
    for (let first = 0; first < lifecycles; first += CONCURRENCY) {
      const size = Math.min(CONCURRENCY, lifecycles - first);
      const wave = Array.from({ length: size }, (_, i) => newLifecycle(first + i, `worker-${i}`));
      for (const step of LIFECYCLE) {
        const at = Date.now();
        for (const life of wave) step.viaSql(sql, life, at);
      }
    }
    sql.finish();
    const seconds = (performance.now() - started) / 1000;

    return { seconds, rowWrites: (totalChanges.get() as number) - changesBefore };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Checks: the figures count only what was really stored

/** Throws unless the file holds exactly what `lifecycles` lifecycles should leave behind. */
function verifyStored(
  label: string,
  path: string,
  lifecycles: number,
  measured: Measurement,
  maintainsRollups: boolean,
) {
  const expected = expectedRowsPerLifecycle();
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const value = (query: string) => db.prepare(query).pluck().get() as number;
    const checks: [what: string, actual: number, wanted: number][] = [];
    // reqtrack also upserts its analytics rollups in the same transactions (src/store/sqlite/
    // sqlite-rollups.ts); those writes come on top of the data rows and are reported apart.
    const dataWrites = lifecycles * ROW_WRITES_PER_LIFECYCLE;
    const rollupWrites = measured.rowWrites - dataWrites;
    if (!maintainsRollups || rollupWrites < 0) {
      checks.push(["row writes (total_changes)", measured.rowWrites, dataWrites]);
    }
    for (const [table, perLifecycle] of Object.entries(expected.tables)) {
      checks.push([
        `${table} rows`,
        value(`SELECT count(*) FROM ${table}`),
        lifecycles * perLifecycle,
      ]);
    }
    for (const [type, perLifecycle] of expected.events) {
      const query = `SELECT count(*) FROM events WHERE type = '${type}'`;
      checks.push([`${type} events`, value(query), lifecycles * perLifecycle]);
    }
    checks.push(
      ["request_tags rows", value("SELECT count(*) FROM request_tags"), 0],
      [
        "completed requests",
        value("SELECT count(*) FROM requests WHERE status = 'completed' AND attempts = 1"),
        lifecycles,
      ],
      [
        "completed stages",
        value("SELECT count(*) FROM stages WHERE status = 'completed'"),
        lifecycles * expected.tables.stages,
      ],
      [
        "cost_micros total",
        value("SELECT coalesce(sum(cost_micros), 0) FROM requests"),
        lifecycles * COST_MICROS,
      ],
    );
    const wrong = checks.filter(([, actual, wanted]) => actual !== wanted);
    if (wrong.length > 0) {
      const detail = wrong.map(
        ([what, actual, wanted]) => `${what}: ${actual}, expected ${wanted}`,
      );
      throw new Error(`${label} did not store what it claims:\n  ${detail.join("\n  ")}`);
    }
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

interface Variant {
  key: string;
  label: string;
  run(path: string, lifecycles: number): Promise<Measurement>;
}

interface Settings {
  lifecycles: number;
  rounds: number;
  warmupLifecycles: number;
}

interface Run {
  seconds: number;
  lifecyclesPerSecond: number;
  rowWritesPerSecond: number;
}

interface Summary {
  variant: Variant;
  runs: Run[];
  lifecyclesPerSecond: number;
  rowWritesPerSecond: number;
}

async function run(): Promise<BenchmarkReport> {
  const lifecycles = envPositiveInt("BENCH_LIFECYCLES", 20_000);
  const settings: Settings = {
    lifecycles,
    rounds: envPositiveInt("BENCH_ROUNDS", 3),
    warmupLifecycles: Math.min(2_000, lifecycles),
  };
  const devNull = pino.destination({ dest: "/dev/null", sync: true });
  try {
    const variants: Variant[] = [
      {
        key: "reqtrack",
        label: "reqtrack (logging off)",
        run: (path, n) => runReqtrack(path, n, pino({ level: "silent" })),
      },
      {
        key: "reqtrackInfoLogging",
        label: "reqtrack (logging info -> /dev/null)",
        run: (path, n) => runReqtrack(path, n, pino({ level: "info" }, devNull)),
      },
      { key: "baseline", label: "raw better-sqlite3 baseline", run: runBaseline },
    ];
    return report(settings, await measureVariants(settings, variants));
  } finally {
    devNull.end();
  }
}

/** Rollup upserts per lifecycle in the last reqtrack run (writes beyond the data rows). */
let rollupWritesPerLifecycle = 0;

/** Warms every variant up, then runs them `rounds` times, alternating; every run is verified. */
async function measureVariants(settings: Settings, variants: Variant[]): Promise<Summary[]> {
  const dir = mkdtempSync(join(tmpdir(), "reqtrack-bench-"));
  const runs = new Map<Variant, Run[]>(variants.map((variant) => [variant, []]));
  let files = 0;
  const measure = async (variant: Variant, lifecycles: number): Promise<Run> => {
    const path = join(dir, `${variant.key}-${++files}.db`);
    const measured = await variant.run(path, lifecycles);
    const maintainsRollups = variant.key !== "baseline";
    verifyStored(variant.label, path, lifecycles, measured, maintainsRollups);
    rmSync(path, { force: true });
    const dataWrites = lifecycles * ROW_WRITES_PER_LIFECYCLE;
    if (maintainsRollups) rollupWritesPerLifecycle = (measured.rowWrites - dataWrites) / lifecycles;
    return {
      seconds: measured.seconds,
      lifecyclesPerSecond: lifecycles / measured.seconds,
      // The same data rows on both sides, so the column compares like with like.
      rowWritesPerSecond: dataWrites / measured.seconds,
    };
  };

  try {
    progress(`warming up: ${formatNumber(settings.warmupLifecycles)} lifecycles per variant`);
    for (const variant of variants) await measure(variant, settings.warmupLifecycles);
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate the order each round so that drift on a shared machine spreads over every side.
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(round + i) % variants.length] as Variant;
        const result = await measure(variant, settings.lifecycles);
        runs.get(variant)?.push(result);
        progress(
          `round ${round + 1}/${settings.rounds} ${variant.label}: ` +
            `${formatNumber(result.seconds, 2)} s, ` +
            `${formatNumber(result.lifecyclesPerSecond)} lifecycles/s (verified)`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  return variants.map((variant) => {
    const variantRuns = runs.get(variant) ?? [];
    return {
      variant,
      runs: variantRuns,
      lifecyclesPerSecond: median(variantRuns.map((r) => r.lifecyclesPerSecond)),
      rowWritesPerSecond: median(variantRuns.map((r) => r.rowWritesPerSecond)),
    };
  });
}

function report(settings: Settings, summary: Summary[]): BenchmarkReport {
  const { lifecycles, rounds, warmupLifecycles } = settings;
  const baseline = summary.find((s) => s.variant.key === "baseline");
  const reqtrack = summary.find((s) => s.variant.key === "reqtrack");
  if (!baseline || !reqtrack) throw new Error("the reqtrack and baseline variants must both run");
  const ratioOf = (s: Summary) => s.lifecyclesPerSecond / baseline.lifecyclesPerSecond;
  const ratio = ratioOf(reqtrack);

  const perTable = Object.entries(expectedRowsPerLifecycle().tables)
    .map(([table, rows]) => `${table} ${rows}`)
    .join(", ");

  return {
    parameters: {
      lifecycles,
      concurrentCallers: CONCURRENCY,
      rounds,
      statistic: `median of ${rounds} runs per variant, variants alternating`,
      warmupLifecycles,
      apiCallsPerLifecycle: LIFECYCLE.length,
      rowWritesPerLifecycle: ROW_WRITES_PER_LIFECYCLE,
      rowWritesBreakdown: LIFECYCLE.map(
        (step) => `${step.call}: ${step.writes.map(describeWrite).join(", ")}`,
      ),
      storage: `fresh SQLite file per run in ${tmpdir()}`,
      pragmas: { journal_mode: "WAL", synchronous: "NORMAL" },
      reqtrackOptions: "createTracker defaults, plus logger",
      logging: {
        reqtrack: 'pino({ level: "silent" }): logging off',
        reqtrackInfoLogging: 'pino({ level: "info" }) to pino.destination("/dev/null", sync)',
      },
      baselineTransactionRows: BASELINE_TRANSACTION_ROWS,
    },
    table: {
      columns: [
        { title: "variant", align: "left" },
        { title: "lifecycles/s", align: "right" },
        { title: "row writes/s", align: "right" },
        { title: "vs baseline", align: "right" },
        { title: "runs (lifecycles/s)", align: "left" },
      ],
      rows: summary.map((s) => [
        s.variant.label,
        formatNumber(s.lifecyclesPerSecond),
        formatNumber(s.rowWritesPerSecond),
        formatNumber(ratioOf(s), 2),
        s.runs.map((r) => formatNumber(r.lifecyclesPerSecond)).join(" / "),
      ]),
    },
    notes: [
      `${formatNumber(lifecycles)} lifecycles per run from ${CONCURRENCY} concurrent callers; ` +
        `median of ${rounds} alternating runs after a ${formatNumber(warmupLifecycles)}-lifecycle warm-up.`,
      `Per lifecycle: ${LIFECYCLE.length} API calls, ${ROW_WRITES_PER_LIFECYCLE} row writes ` +
        `(rows kept: ${perTable}); every run checked by SQLite's total_changes() and row counts.`,
      `  reqtrack also upserts its analytics rollups in the same transactions: ` +
        `${rollupWritesPerLifecycle.toFixed(2)} extra row writes per lifecycle, not counted above.`,
      "Logging is OFF (pino level silent) in the main reqtrack row; the second row logs at info.",
      "Baseline: the same INSERT/UPDATE statements, prepared, in " +
        `${formatNumber(BASELINE_TRANSACTION_ROWS)}-row transactions, no reads or validation.`,
      `ratio reqtrack / baseline = ${formatNumber(ratio, 2)} ` +
        `(goal >= ${GOAL_RATIO}: ${ratio >= GOAL_RATIO ? "met" : "NOT met"})`,
    ],
    figures: {
      ratio,
      goalRatio: GOAL_RATIO,
      goalMet: ratio >= GOAL_RATIO,
      variants: Object.fromEntries(
        summary.map((s) => [
          s.variant.key,
          {
            label: s.variant.label,
            medianLifecyclesPerSecond: s.lifecyclesPerSecond,
            medianRowWritesPerSecond: s.rowWritesPerSecond,
            ratioToBaseline: ratioOf(s),
            runs: s.runs,
          },
        ]),
      ),
    },
  };
}

export const benchmark: Benchmark = {
  name: "ingest",
  description: "full request lifecycles through createTracker vs raw better-sqlite3",
  run,
};

if (isMain(import.meta.url)) await runBenchmark(benchmark, { writeResults: false });
