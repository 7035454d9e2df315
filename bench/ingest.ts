/**
 * Ingest benchmark: full request lifecycles from concurrent async callers through the public
 * API into a SQLite file, against a raw better-sqlite3 baseline making the same row writes.
 * With `--storage postgres://...`: the same lifecycles into PostgreSQL (a fresh schema per
 * run), against raw `pg` writing the same rows with multi-row statements.
 *
 *   npm run bench -- ingest                            (writes bench/results/ingest.json)
 *   BENCH_LIFECYCLES=5000 BENCH_ROUNDS=1 npm run bench -- ingest
 *   npm run bench -- --storage postgres://postgres@127.0.0.1/test ingest
 *                                                      (writes bench/results/ingest-postgres.json)
 *   node --cpu-prof --import tsx bench/ingest.ts      (standalone, for profiling; takes --storage)
 *
 * The workload (the lifecycle, its rows, the checks) is support/ingest-lifecycle.ts; the
 * PostgreSQL sides are support/ingest-postgres.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { pino } from "pino";
import { createTracker, type Logger, SqliteStore, type Tracker } from "../src/index.js";
import { SQLITE_MIGRATIONS } from "../src/store/migrations/sqlite.js";
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
  API_CALLS_PER_LIFECYCLE,
  CONCURRENCY,
  type CostInsert,
  type EventInsert,
  expectedRowsPerLifecycle,
  type LifecycleUpdate,
  type RequestInsert,
  ROW_WRITES_PER_LIFECYCLE,
  type RowSink,
  rowWritesBreakdown,
  runCallers,
  type RunTime,
  runWaves,
  type StageFinish,
  storedChecks,
} from "./support/ingest-lifecycle.js";
import {
  BASELINE_ROWS as POSTGRES_BASELINE_ROWS,
  runBaselinePostgres,
  runReqtrackPostgres,
} from "./support/ingest-postgres.js";
import { postgresServer, withFreshSchema } from "./support/postgres.js";

const BASELINE_TRANSACTION_ROWS = 1000;
const SQLITE_GOAL_RATIO = 0.5;
/** Issue 7: a server round trip per statement makes PostgreSQL's bar lower than SQLite's. */
const POSTGRES_GOAL_RATIO = 0.3;

interface Measurement {
  seconds: number;
  /** This process's CPU seconds over the run (reqtrack's variants only). */
  cpuSeconds?: number;
  /**
   * Rows reqtrack writes beyond the lifecycle's data rows, per lifecycle: analytics rollups
   * (SQLite), op ids kept for exactly-once replays (PostgreSQL). Zero for the baselines.
   */
  extraWritesPerLifecycle: number;
}

// ---------------------------------------------------------------------------------------------
// SQLite

/** Runs through createTracker on a fresh file; checks its rows and SQLite's change count. */
/**
 * Budgets the "100 budgets" variant defines: 99 on tenants the workload never uses, and one
 * over every tenant, enforced, whose limit the workload never reaches, so that every create is
 * checked against all of them and every cost prompts an evaluation.
 */
async function defineBudgets(tracker: Tracker): Promise<void> {
  for (let i = 0; i < 99; i++) {
    await tracker.budgets.create({
      tenantId: `bench-tenant-${i}`,
      period: i % 2 === 0 ? "day" : "month",
      amountUsd: 100,
      mode: i % 3 === 0 ? "enforce" : "alert",
    });
  }
  await tracker.budgets.create({ period: "month", amountUsd: 1_000_000_000, mode: "enforce" });
}

async function runReqtrackSqlite(
  path: string,
  lifecycles: number,
  logger: Logger,
  budgets = false,
): Promise<Measurement> {
  const tracker = await createTracker({ storage: path, logger });
  if (budgets) await defineBudgets(tracker);
  let time: RunTime;
  let rowWrites: number;
  try {
    if (!(tracker.store instanceof SqliteStore)) throw new Error("expected a SqliteStore");
    const totalChanges = tracker.store.db.prepare("SELECT total_changes()").pluck();
    const changesBefore = totalChanges.get() as number;
    time = await runCallers(tracker, lifecycles);
    rowWrites = (totalChanges.get() as number) - changesBefore;
  } finally {
    await tracker.close();
  }
  // reqtrack also upserts its analytics rollups in the same transactions (src/store/sqlite/
  // sqlite-rollups.ts); those writes come on top of the data rows and are reported apart.
  const dataWrites = lifecycles * ROW_WRITES_PER_LIFECYCLE;
  const rollupWrites = rowWrites - dataWrites;
  const tooFew: Check[] =
    rollupWrites < 0 ? [["row writes (total_changes)", rowWrites, dataWrites]] : [];
  await verifySqlite("reqtrack", path, lifecycles, tooFew);
  return { ...time, extraWritesPerLifecycle: rollupWrites / lifecycles };
}

/**
 * The same INSERT/UPDATE statements as SqliteWriter, prepared once, without the reads,
 * validation, savepoints or promises, committed every `rowsPerTransaction` rows.
 */
class RawWriter implements RowSink {
  private readonly insertRequestStatement: Database.Statement;
  private readonly updateLifecycleStatement: Database.Statement;
  private readonly insertStageStatement: Database.Statement;
  private readonly finishStageStatement: Database.Statement;
  private readonly insertEventStatement: Database.Statement;
  private readonly insertCostStatement: Database.Statement;
  private readonly addCostStatement: Database.Statement;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private uncommitted = 0;

  constructor(
    db: Database.Database,
    private readonly rowsPerTransaction: number,
  ) {
    // SQL text as in src/store/sqlite/sqlite-writer.ts.
    this.insertRequestStatement = db.prepare(`INSERT INTO requests (id, status, priority, lane,
      user_id, channel_id, tenant_id, session_id, kind, source, tags, initial_message, input,
      intent, entities, parent_id, correlation_id, max_attempts, timeout_ms, deadline_at,
      created_at, updated_at) VALUES (@id, 'pending', @priority, @lane, @userId, @channelId,
      @tenantId, @sessionId, @kind, @source, @tags, @initialMessage, @input, @intent, @entities,
      @parentId, @correlationId, @maxAttempts, @timeoutMs, @deadlineAt, @createdAt, @createdAt)
      ON CONFLICT (id) DO NOTHING`);
    this.updateLifecycleStatement = db.prepare(`UPDATE requests SET status = @status,
      started_at = @startedAt, completed_at = @completedAt, queue_ms = @queueMs,
      duration_ms = @durationMs, attempts = @attempts, worker_id = @workerId,
      lease_expires_at = @leaseExpiresAt, result = @result, error_message = @errorMessage,
      error_stage = @errorStage, error_details = @errorDetails, updated_at = @at WHERE id = @id`);
    this.insertStageStatement = db.prepare(`INSERT INTO stages (request_id, name, attempt,
      status, started_at) VALUES (?, ?, ?, 'running', ?)`);
    this.finishStageStatement = db.prepare(`UPDATE stages SET status = @status,
      completed_at = @at, duration_ms = @durationMs, output = @output,
      error_message = @errorMessage, error_details = @errorDetails, retryable = @retryable
      WHERE request_id = @id AND name = @name AND attempt = @attempt`);
    this.insertEventStatement = db.prepare(`INSERT INTO events (request_id, ts, type, stage,
      severity, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.insertCostStatement = db.prepare(`INSERT INTO costs (request_id, ts, service,
      amount_micros, usage, stage) VALUES (?, ?, ?, ?, ?, ?)`);
    this.addCostStatement = db.prepare(`UPDATE requests SET cost_micros = cost_micros + ?,
      updated_at = ? WHERE id = ? AND deleted_at IS NULL`);
    this.begin = db.prepare("BEGIN");
    this.commit = db.prepare("COMMIT");
  }

  insertRequest(row: RequestInsert): void {
    this.write(this.insertRequestStatement, row);
  }

  updateLifecycle(row: LifecycleUpdate): void {
    this.write(this.updateLifecycleStatement, row);
  }

  insertStage(requestId: string, name: string, attempt: number, at: number): void {
    this.write(this.insertStageStatement, requestId, name, attempt, at);
  }

  finishStage(row: StageFinish): void {
    this.write(this.finishStageStatement, row);
  }

  insertEvent(e: EventInsert): void {
    this.write(
      this.insertEventStatement,
      e.requestId,
      e.at,
      e.type,
      e.stage,
      e.severity,
      e.message,
      e.data,
    );
  }

  insertCost(c: CostInsert): void {
    this.write(
      this.insertCostStatement,
      c.requestId,
      c.at,
      c.service,
      c.amountMicros,
      c.usage,
      c.stage,
    );
  }

  addCost(requestId: string, micros: number, at: number): void {
    this.write(this.addCostStatement, micros, at, requestId);
  }

  /** Commits inside `write`, every `rowsPerTransaction` rows, whatever the step. */
  stepDone(): void {}

  /** Commits what is left. */
  finish(): void {
    if (this.uncommitted === 0) return;
    this.commit.run();
    this.uncommitted = 0;
  }

  private write(statement: Database.Statement, ...params: unknown[]): void {
    if (this.uncommitted === 0) this.begin.run();
    statement.run(...params);
    if (++this.uncommitted === this.rowsPerTransaction) this.finish();
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

async function runBaselineSqlite(path: string, lifecycles: number): Promise<Measurement> {
  const db = openBaselineDatabase(path);
  let seconds: number;
  let rowWrites: number;
  try {
    const totalChanges = db.prepare("SELECT total_changes()").pluck();
    const changesBefore = totalChanges.get() as number;
    seconds = await runWaves(new RawWriter(db, BASELINE_TRANSACTION_ROWS), lifecycles);
    rowWrites = (totalChanges.get() as number) - changesBefore;
  } finally {
    db.close();
  }
  const dataWrites = lifecycles * ROW_WRITES_PER_LIFECYCLE;
  // At least the data rows: total_changes also counts what the schema's triggers write (the
  // prompt-search index's FTS5 tables), which the baseline pays exactly as reqtrack does.
  await verifySqlite(
    "raw better-sqlite3 baseline",
    path,
    lifecycles,
    rowWrites < dataWrites ? [["row writes (total_changes)", rowWrites, dataWrites]] : [],
  );
  return { seconds, extraWritesPerLifecycle: 0 };
}

/** Throws unless the file holds exactly what `lifecycles` lifecycles should leave behind. */
async function verifySqlite(
  label: string,
  path: string,
  lifecycles: number,
  extra: Check[],
): Promise<void> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const count = (query: string) => db.prepare(query).pluck().get() as number;
    failOnMismatch(label, [...extra, ...(await storedChecks(count, lifecycles))]);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

interface Variant {
  key: string;
  label: string;
  /** Runs `lifecycles` on fresh storage of its own, checks what was stored, cleans up. */
  run(lifecycles: number): Promise<Measurement>;
}

/** One storage's side of the benchmark: what runs, against which goal, and how to say so. */
interface Setup {
  goalRatio: number;
  variants: Variant[];
  parameters: Record<string, unknown>;
  /** What reqtrack's extra row writes are, for the note under the table. */
  extraWrites: string;
  baseline: string;
  close(): void;
}

interface Settings {
  lifecycles: number;
  rounds: number;
  warmupLifecycles: number;
}

interface Run {
  seconds: number;
  /** CPU microseconds of this process per lifecycle, when measured. */
  cpuMicrosPerLifecycle: number | null;
  lifecyclesPerSecond: number;
  rowWritesPerSecond: number;
  extraWritesPerLifecycle: number;
}

interface Summary {
  variant: Variant;
  runs: Run[];
  lifecyclesPerSecond: number;
  rowWritesPerSecond: number;
  extraWritesPerLifecycle: number;
}

async function run(options: RunOptions): Promise<BenchmarkReport> {
  const lifecycles = envPositiveInt("BENCH_LIFECYCLES", 20_000);
  const settings: Settings = {
    lifecycles,
    rounds: envPositiveInt("BENCH_ROUNDS", 3),
    warmupLifecycles: Math.min(2_000, lifecycles),
  };
  const setup =
    options.postgresUrl === undefined ? sqliteSetup() : await postgresSetup(options.postgresUrl);
  try {
    return report(settings, setup, await measureVariants(settings, setup.variants));
  } finally {
    setup.close();
  }
}

function sqliteSetup(): Setup {
  const dir = mkdtempSync(join(tmpdir(), "reqtrack-bench-"));
  const devNull = pino.destination({ dest: "/dev/null", sync: true });
  let files = 0;
  /** A fresh file for each run, removed after its checks. */
  const onFile = async (key: string, work: (path: string) => Promise<Measurement>) => {
    const path = join(dir, `${key}-${++files}.db`);
    try {
      return await work(path);
    } finally {
      rmSync(path, { force: true });
    }
  };
  return {
    goalRatio: SQLITE_GOAL_RATIO,
    variants: [
      {
        key: "reqtrack",
        label: "reqtrack (logging off)",
        run: (n) =>
          onFile("reqtrack", (path) => runReqtrackSqlite(path, n, pino({ level: "silent" }))),
      },
      {
        key: "reqtrackInfoLogging",
        label: "reqtrack (logging info -> /dev/null)",
        run: (n) =>
          onFile("logging", (path) => runReqtrackSqlite(path, n, pino({ level: "info" }, devNull))),
      },
      {
        key: "reqtrackBudgets",
        label: "reqtrack with 100 budgets (logging off)",
        run: (n) =>
          onFile("budgets", (path) => runReqtrackSqlite(path, n, pino({ level: "silent" }), true)),
      },
      {
        key: "baseline",
        label: "raw better-sqlite3 baseline",
        run: (n) => onFile("baseline", (path) => runBaselineSqlite(path, n)),
      },
    ],
    parameters: {
      storage: `fresh SQLite file per run in ${tmpdir()}`,
      pragmas: { journal_mode: "WAL", synchronous: "NORMAL" },
      reqtrackOptions: "createTracker defaults, plus logger",
      logging: {
        reqtrack: 'pino({ level: "silent" }): logging off',
        reqtrackInfoLogging: 'pino({ level: "info" }) to pino.destination("/dev/null", sync)',
      },
      baselineTransactionRows: BASELINE_TRANSACTION_ROWS,
    },
    extraWrites: "upserts its analytics rollups in the same transactions",
    baseline:
      "Baseline: the same INSERT/UPDATE statements, prepared, in " +
      `${formatNumber(BASELINE_TRANSACTION_ROWS)}-row transactions, no reads or validation.`,
    close() {
      devNull.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresSetup(url: string): Promise<Setup> {
  const server = await postgresServer(url);
  const silent = pino({ level: "silent" });
  return {
    goalRatio: POSTGRES_GOAL_RATIO,
    // Logging on is measured on SQLite; here a run is long and the store is what is measured.
    variants: [
      {
        key: "reqtrack",
        label: "reqtrack (PostgreSQL, logging off)",
        run: (n) =>
          withFreshSchema(url, "ingest", (schema) => runReqtrackPostgres(schema, n, silent)),
      },
      {
        key: "reqtrackBudgets",
        label: "reqtrack with 100 budgets (PostgreSQL, logging off)",
        run: (n) =>
          withFreshSchema(url, "ingest_budgets", (schema) =>
            runReqtrackPostgres(schema, n, silent, defineBudgets),
          ),
      },
      {
        key: "baseline",
        label: "raw pg multi-row baseline",
        run: (n) =>
          withFreshSchema(url, "ingest_raw", (schema) => runBaselinePostgres(schema.url, n)),
      },
    ],
    parameters: {
      storage: "PostgreSQL, a fresh schema per run (search_path in the URL), dropped afterwards",
      server,
      reqtrackOptions:
        'createTracker({ storage: url, logger: pino({ level: "silent" }) }): defaults ' +
        "(pool of 10 connections, LISTEN/NOTIFY on)",
      baselineTransactionRows: POSTGRES_BASELINE_ROWS,
      baseline:
        "one pg connection, reqtrack's migrations; per transaction one INSERT ... SELECT FROM " +
        "unnest() per table and one UPDATE ... FROM unnest() per kind of update (repeated status " +
        "changes of one request in one transaction merged into its last), named prepared statements",
    },
    extraWrites:
      "records every op id (exactly-once replays after a lost commit) and upserts its " +
      "analytics rollups in the same transactions",
    baseline:
      "Baseline: raw pg, the same rows as multi-row INSERT ... SELECT FROM unnest() and " +
      `UPDATE ... FROM unnest() statements, ${formatNumber(POSTGRES_BASELINE_ROWS)} rows a ` +
      "transaction (at most 7 statements), no reads, validation, op ids or notifications.",
    close() {},
  };
}

/** Warms every variant up, then runs them `rounds` times, alternating; every run is verified. */
async function measureVariants(settings: Settings, variants: Variant[]): Promise<Summary[]> {
  const runs = new Map<Variant, Run[]>(variants.map((variant) => [variant, []]));
  const measure = async (variant: Variant, lifecycles: number): Promise<Run> => {
    const measured = await variant.run(lifecycles);
    return {
      seconds: measured.seconds,
      cpuMicrosPerLifecycle:
        measured.cpuSeconds === undefined ? null : (measured.cpuSeconds * 1e6) / lifecycles,
      lifecyclesPerSecond: lifecycles / measured.seconds,
      // The same data rows on both sides, so the column compares like with like.
      rowWritesPerSecond: (lifecycles * ROW_WRITES_PER_LIFECYCLE) / measured.seconds,
      extraWritesPerLifecycle: measured.extraWritesPerLifecycle,
    };
  };

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

  return variants.map((variant) => {
    const variantRuns = runs.get(variant) ?? [];
    return {
      variant,
      runs: variantRuns,
      lifecyclesPerSecond: median(variantRuns.map((r) => r.lifecyclesPerSecond)),
      rowWritesPerSecond: median(variantRuns.map((r) => r.rowWritesPerSecond)),
      extraWritesPerLifecycle: median(variantRuns.map((r) => r.extraWritesPerLifecycle)),
    };
  });
}

function report(settings: Settings, setup: Setup, summary: Summary[]): BenchmarkReport {
  const { lifecycles, rounds, warmupLifecycles } = settings;
  const goal = setup.goalRatio;
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
      apiCallsPerLifecycle: API_CALLS_PER_LIFECYCLE,
      rowWritesPerLifecycle: ROW_WRITES_PER_LIFECYCLE,
      rowWritesBreakdown: rowWritesBreakdown(),
      ...setup.parameters,
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
      `Per lifecycle: ${API_CALLS_PER_LIFECYCLE} API calls, ${ROW_WRITES_PER_LIFECYCLE} row ` +
        `writes (rows kept: ${perTable}); every run checked by row counts afterwards.`,
      `  reqtrack also ${setup.extraWrites}: ` +
        `${reqtrack.extraWritesPerLifecycle.toFixed(2)} extra row writes per lifecycle, not counted above.`,
      summary.some((s) => s.variant.key === "reqtrackInfoLogging")
        ? "Logging is OFF (pino level silent) in the main reqtrack row; the second row logs at info."
        : "Logging is OFF (pino level silent).",
      ...budgetNote(summary, reqtrack),
      setup.baseline,
      `ratio reqtrack / baseline = ${formatNumber(ratio, 2)} ` +
        `(goal >= ${goal}: ${ratio >= goal ? "met" : "NOT met"})`,
    ],
    figures: {
      ratio,
      goalRatio: goal,
      goalMet: ratio >= goal,
      ...budgetResult(summary, reqtrack),
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

/** Budgets must not slow ingest by more than 5 %: the budget variant against plain reqtrack. */
const BUDGET_GOAL_RATIO = 0.95;

function budgetNote(summary: Summary[], reqtrack: Summary): string[] {
  const withBudgets = summary.find((s) => s.variant.key === "reqtrackBudgets");
  if (!withBudgets) return [];
  const figures = budgetFigures(reqtrack, withBudgets);
  const verdict = (ratio: number) =>
    `${formatNumber(ratio, 3)} (goal >= ${BUDGET_GOAL_RATIO}: ${ratio >= BUDGET_GOAL_RATIO ? "met" : "NOT met"})`;
  return [
    `with 100 budgets / without, lifecycles/s (medians) = ${verdict(figures.throughputRatio)}`,
    `  the same, median of each round's pair (run next to each other) = ${verdict(figures.pairedRatio)}`,
    `  CPU per lifecycle, without / with (this process, medians: ` +
      `${formatNumber(figures.cpuMicrosWithout)} / ${formatNumber(figures.cpuMicrosWith)} us) = ` +
      verdict(figures.cpuRatio),
  ];
}

/** The budget figures as written to the results file (none without the budget variant). */
function budgetResult(summary: Summary[], reqtrack: Summary): Record<string, unknown> {
  const withBudgets = summary.find((s) => s.variant.key === "reqtrackBudgets");
  if (!withBudgets) return {};
  return { budgets: { ...budgetFigures(reqtrack, withBudgets), goalRatio: BUDGET_GOAL_RATIO } };
}

/**
 * The budget check's cost, three ways: medians of throughput, the median of each round's
 * pair (the two runs of a round are close in time, so drift on a shared machine cancels),
 * and this process's CPU per lifecycle (what the check adds, whatever else the machine runs).
 */
function budgetFigures(plain: Summary, withBudgets: Summary) {
  const pairs = plain.runs.flatMap((run, i) => {
    const other = withBudgets.runs[i];
    return other ? [other.lifecyclesPerSecond / run.lifecyclesPerSecond] : [];
  });
  const cpu = (s: Summary) => median(s.runs.flatMap((r) => r.cpuMicrosPerLifecycle ?? []));
  return {
    throughputRatio: withBudgets.lifecyclesPerSecond / plain.lifecyclesPerSecond,
    pairedRatio: median(pairs),
    cpuMicrosWithout: cpu(plain),
    cpuMicrosWith: cpu(withBudgets),
    cpuRatio: cpu(plain) / cpu(withBudgets),
  };
}

export const benchmark: Benchmark = {
  name: "ingest",
  description: "full request lifecycles through createTracker vs raw driver writes",
  storages: ["sqlite", "postgres"],
  run,
};

if (isMain(import.meta.url)) await runStandalone(benchmark);
