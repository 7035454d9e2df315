import { newRequestId, type Tracker } from "../../src/index.js";
import type { Check } from "./harness.js";

/**
 * The workload of bench/ingest.ts, once for every storage: one full request lifecycle as
 * API calls (how reqtrack makes them) and as the rows they write (how a raw baseline writes
 * the same rows through a `RowSink`), plus the checks that a run stored exactly that.
 */

/** Concurrent async callers on the reqtrack side; the baseline interleaves as many lifecycles. */
export const CONCURRENCY = 100;

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

/** The columns of a new requests row (the rest take their defaults). */
export interface RequestInsert {
  id: string;
  priority: number;
  lane: string;
  userId: string;
  channelId: string | null;
  tenantId: string | null;
  sessionId: string | null;
  kind: string;
  source: string | null;
  tags: string;
  initialMessage: string;
  input: string;
  intent: string | null;
  entities: string | null;
  parentId: string | null;
  correlationId: string | null;
  maxAttempts: number;
  timeoutMs: number;
  deadlineAt: number | null;
  createdAt: number;
}

/** A status change: the whole lifecycle state of a requests row, as the writers set it. */
export interface LifecycleUpdate {
  id: string;
  status: string;
  startedAt: number | null;
  completedAt: number | null;
  queueMs: number | null;
  durationMs: number | null;
  attempts: number;
  workerId: string | null;
  leaseExpiresAt: number | null;
  result: string | null;
  errorMessage: string | null;
  errorStage: string | null;
  errorDetails: string | null;
  at: number;
}

export interface StageFinish {
  id: string;
  name: string;
  attempt: number;
  status: string;
  at: number;
  durationMs: number;
  output: string | null;
  errorMessage: string | null;
  errorDetails: string | null;
  retryable: boolean | null;
}

export interface EventInsert {
  requestId: string;
  at: number;
  type: string;
  stage: string | null;
  severity: string;
  message: string;
  data: string | null;
}

export interface CostInsert {
  requestId: string;
  at: number;
  service: string;
  amountMicros: number;
  usage: string | null;
  stage: string | null;
}

/** Where a baseline writes the lifecycle's rows; each storage's baseline implements it. */
export interface RowSink {
  insertRequest(row: RequestInsert): void;
  updateLifecycle(row: LifecycleUpdate): void;
  insertStage(requestId: string, name: string, attempt: number, at: number): void;
  finishStage(row: StageFinish): void;
  insertEvent(row: EventInsert): void;
  insertCost(row: CostInsert): void;
  addCost(requestId: string, micros: number, at: number): void;
  /** Called after every step of a wave: where a batching sink commits what is due. */
  stepDone(): Promise<void> | void;
  /** Commits what is left. */
  finish(): Promise<void> | void;
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
 * src/store/sqlite/sqlite-writer.ts and src/store/postgres/postgres-writer.ts; every run is
 * checked against them) and how the baseline writes those same rows.
 */
interface Step {
  call: string;
  writes: readonly RowWrite[];
  viaTracker(tracker: Tracker, life: Lifecycle): Promise<void>;
  viaSink(sink: RowSink, life: Lifecycle, at: number): void;
}

const insert = (table: TableName, event?: string): RowWrite =>
  event === undefined ? { statement: "INSERT", table } : { statement: "INSERT", table, event };
const update = (table: TableName): RowWrite => ({ statement: "UPDATE", table });

const statusChange = (from: string, to: string) => JSON.stringify({ from, to, attempt: 1 });

const event = (
  requestId: string,
  at: number,
  type: string,
  stage: string | null,
  message: string,
  data: string | null,
): EventInsert => ({ requestId, at, type, stage, severity: "info", message, data });

function startStage(stage: string): Step {
  return {
    call: `startStage(${stage})`,
    writes: [insert("stages"), insert("events", "stage_started")],
    viaTracker: (tracker, life) => tracker.startStage(life.id, stage),
    viaSink(sink, life, at) {
      life.stageStartedAt = at;
      sink.insertStage(life.id, stage, 1, at);
      sink.insertEvent(event(life.id, at, "stage_started", stage, `Stage ${stage} started`, null));
    },
  };
}

function completeStage(stage: string, output: object): Step {
  const outputText = JSON.stringify(output);
  return {
    call: `completeStage(${stage})`,
    writes: [update("stages"), insert("events", "stage_completed")],
    viaTracker: (tracker, life) => tracker.completeStage(life.id, stage, output),
    viaSink(sink, life, at) {
      const durationMs = at - life.stageStartedAt;
      sink.finishStage({
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
      sink.insertEvent(
        event(life.id, at, "stage_completed", stage, `Stage ${stage} completed`, data),
      );
    },
  };
}

function logEvent(e: { type: string; stage: string; message: string; data: object }): Step {
  const dataText = JSON.stringify(e.data);
  return {
    call: `logEvent(${e.type})`,
    writes: [insert("events", e.type)],
    viaTracker: (tracker, life) => tracker.logEvent(life.id, e),
    viaSink(sink, life, at) {
      sink.insertEvent(event(life.id, at, e.type, e.stage, e.message, dataText));
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
    viaSink(sink, life, at) {
      life.id = newRequestId(at);
      life.createdAt = at;
      sink.insertRequest({
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
      sink.insertEvent(event(life.id, at, "request_created", null, "Request created", null));
    },
  },
  {
    call: "startRequest",
    writes: [update("requests"), insert("events", "status_changed")],
    viaTracker: (tracker, life) => tracker.startRequest(life.id, life.worker),
    viaSink(sink, life, at) {
      life.startedAt = at;
      sink.updateLifecycle({
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
      sink.insertEvent(event(life.id, at, "status_changed", null, "pending -> running", data));
    },
  },
  startStage(SCRIPT),
  logEvent(LLM_CALL),
  {
    call: "recordCost",
    writes: [update("requests"), insert("costs")],
    viaTracker: (tracker, life) => tracker.recordCost(life.id, COST),
    viaSink(sink, life, at) {
      sink.addCost(life.id, COST_MICROS, at);
      sink.insertCost({
        requestId: life.id,
        at,
        service: COST.service,
        amountMicros: COST_MICROS,
        usage: COST_USAGE_TEXT,
        stage: SCRIPT,
      });
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
    viaSink(sink, life, at) {
      sink.updateLifecycle({
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
      sink.insertEvent(event(life.id, at, "status_changed", null, "running -> completed", data));
    },
  },
];

export const API_CALLS_PER_LIFECYCLE = LIFECYCLE.length;
export const ROW_WRITES_PER_LIFECYCLE = LIFECYCLE.reduce((sum, s) => sum + s.writes.length, 0);

/** "createRequest: INSERT requests, INSERT events (request_created)", one line per call. */
export function rowWritesBreakdown(): string[] {
  const describe = (write: RowWrite) =>
    `${write.statement} ${write.table}${write.event ? ` (${write.event})` : ""}`;
  return LIFECYCLE.map((step) => `${step.call}: ${step.writes.map(describe).join(", ")}`);
}

/** Rows each table should hold per lifecycle, and event rows per type, from `LIFECYCLE`. */
export function expectedRowsPerLifecycle() {
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

/**
 * `CONCURRENCY` async callers run lifecycles through the public API until `lifecycles` are
 * done; returns the seconds until the last write has committed.
 */
/** Wall-clock and process CPU seconds of a run. */
export interface RunTime {
  seconds: number;
  /** This process's CPU (user + system): what reqtrack itself spent, whatever else runs. */
  cpuSeconds: number;
}

export async function runCallers(tracker: Tracker, lifecycles: number): Promise<RunTime> {
  let next = 0;
  const caller = async (worker: string) => {
    while (next < lifecycles) {
      const life = newLifecycle(next++, worker);
      for (const step of LIFECYCLE) await step.viaTracker(tracker, life);
    }
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => caller(`worker-${i}`)));
  await tracker.flush();
  const used = process.cpuUsage(cpu);
  return {
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
  };
}

/**
 * The same lifecycles through a baseline sink, interleaved the way the concurrent callers
 * interleave them: waves of `CONCURRENCY` lifecycles, each wave taking one step at a time.
 * Returns the seconds until the sink has committed everything.
 */
export async function runWaves(sink: RowSink, lifecycles: number): Promise<number> {
  const started = performance.now();
  for (let first = 0; first < lifecycles; first += CONCURRENCY) {
    const size = Math.min(CONCURRENCY, lifecycles - first);
    const wave = Array.from({ length: size }, (_, i) => newLifecycle(first + i, `worker-${i}`));
    for (const step of LIFECYCLE) {
      const at = Date.now();
      for (const life of wave) step.viaSink(sink, life, at);
      await sink.stepDone();
    }
  }
  await sink.finish();
  return (performance.now() - started) / 1000;
}

/**
 * What `lifecycles` lifecycles must leave behind, asked of the store through `count` (one
 * number per query; the SQL runs on SQLite and PostgreSQL alike).
 */
export async function storedChecks(
  count: (query: string) => Promise<number> | number,
  lifecycles: number,
): Promise<Check[]> {
  const expected = expectedRowsPerLifecycle();
  const checks: Check[] = [];
  for (const [table, perLifecycle] of Object.entries(expected.tables)) {
    checks.push([
      `${table} rows`,
      await count(`SELECT count(*) FROM ${table}`),
      lifecycles * perLifecycle,
    ]);
  }
  for (const [type, perLifecycle] of expected.events) {
    const query = `SELECT count(*) FROM events WHERE type = '${type}'`;
    checks.push([`${type} events`, await count(query), lifecycles * perLifecycle]);
  }
  checks.push(
    ["request_tags rows", await count("SELECT count(*) FROM request_tags"), 0],
    [
      "completed requests",
      await count("SELECT count(*) FROM requests WHERE status = 'completed' AND attempts = 1"),
      lifecycles,
    ],
    [
      "completed stages",
      await count("SELECT count(*) FROM stages WHERE status = 'completed'"),
      lifecycles * expected.tables.stages,
    ],
    [
      "cost_micros total",
      await count("SELECT coalesce(sum(cost_micros), 0) FROM requests"),
      lifecycles * COST_MICROS,
    ],
  );
  return checks;
}
