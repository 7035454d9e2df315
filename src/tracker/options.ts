import type { Logger } from "../context/logger.js";
import { createDefaultLogger } from "../context/logger.js";
import { ValidationError } from "../core/errors.js";
import { checkOptions, functionOption, loggerOption } from "../core/option-check.js";
import { z } from "zod";
import type { PostgresStoreOptions } from "../store/postgres/postgres-store.js";
import { isPostgresUrl } from "../store/storage-url.js";
import type { Store } from "../store/store.js";

/**
 * How a `postgres://` storage is opened; see `PostgresStoreOptions` for each field. A field
 * left out takes the store's default.
 *
 * @example
 * createTracker({
 *   storage: "postgres://reqtrack@db.internal/reqtrack",
 *   postgres: { schema: "reqtrack", maxConnections: 20 },
 * });
 */
export type PostgresOptions = Pick<
  PostgresStoreOptions,
  "schema" | "maxConnections" | "preparedStatements" | "listenConnectionString"
>;

/** Options of `createTracker`. Every field is optional; defaults live in `resolveOptions`. */
export interface TrackerOptions {
  /**
   * A SQLite file path, ":memory:", a `postgres://` URL, or a `Store` you opened yourself.
   * Default "data/reqtrack.db".
   */
  storage?: string | Store;
  /** PostgreSQL only (a `postgres://` storage): schema, pool size, pgbouncer settings. */
  postgres?: PostgresOptions;
  /** Epoch-ms clock. Inject one in tests to move time without sleeping. */
  clock?: () => number;
  /** A pino logger. Default: pino JSON on stdout at REQTRACK_LOG_LEVEL (default "info"). */
  logger?: Logger;
  /**
   * The "request created" line (info) carries the first 50 characters of the prompt; true
   * leaves the text out (its length stays). Default false.
   */
  redactPrompts?: boolean;
  /**
   * What to do when the store cannot be written. "degrade" (default): log, keep the change in
   * the outbox file and replay it later; the caller never sees the outage. "throw": reject
   * with `StoreUnavailableError`.
   */
  onStoreError?: "degrade" | "throw";
  /** Outbox file for degraded mode. Default: `<storage>.outbox.ndjson` beside the SQLite file. */
  outboxPath?: string;
  /** How often the outbox is retried while degraded. Default 1000 ms. */
  replayIntervalMs?: number;
  /**
   * How often cost budgets are evaluated besides right after this tracker records costs
   * (which catches costs recorded through other servers). Default 5000 ms; 0: only then.
   */
  budgetIntervalMs?: number;
  /** Run time limit of a request. Default 5 minutes. */
  defaultTimeoutMs?: number;
  /** Run time limits per kind, e.g. `{ video_generation: 600_000 }`. */
  timeouts?: Record<string, number>;
  /** Attempts a request may use (first run included) unless it says otherwise. Default 3. */
  defaultMaxAttempts?: number;
  /** Queries slower than this are logged (info; warn above 5x). Default 100 ms. */
  slowQueryMs?: number;
  /** SQLite only: how long a write waits for a lock before the store counts as down. Default 2000. */
  busyTimeoutMs?: number;
  /** SQLite only: "normal" (default) or "full" (fsync every commit). See `SqliteStoreOptions`. */
  durability?: "normal" | "full";
  /** Lease of a claimed request; a worker that stops heartbeating loses it. Default 30 s. */
  leaseMs?: number;
  /** How often the watchdog sweeps by itself; 0 turns the timer off (`sweep()` still works). Default 1000. */
  watchdogIntervalMs?: number;
  /** Pending requests older than this are cancelled as "stale". Default: never. */
  staleAfterMs?: number | null;
  /** Aging: a pending request that waited this long in its lane moves up one lane. Default: no aging. */
  maxWaitMs?: { normal?: number; low?: number };
  /** Hard-delete requests older than this many days, once a day. Default: REQUEST_RETENTION_DAYS, else keep forever. */
  retentionDays?: number | null;
  /**
   * Keep at most this many requests (the newest), hard-deleting older ones on every watchdog
   * pass: a count-bounded history beside (or instead of) `retentionDays`. Default: no bound.
   */
  retentionMaxRequests?: number | null;
  /** How long `close()` waits for running handlers before giving their requests back. Default 10 s. */
  shutdownGraceMs?: number;
  /**
   * Input fields (top level of `input`, or of `input.parameters`) that label a finished
   * request: its completion log line carries them under `labels`, and the server's duration
   * histogram has one label each. E.g. `["aspect_ratio"]`. Default none.
   */
  labelFields?: string[];
  /** Page size of `listRequests` when no `limit` is given, and the largest allowed. Default 50 and 1000. */
  pageSize?: { default?: number; max?: number };
}

export interface ResolvedOptions {
  readonly storage: string | Store;
  readonly postgres: Readonly<PostgresOptions>;
  readonly clock: () => number;
  readonly logger: Logger;
  readonly redactPrompts: boolean;
  readonly onStoreError: "degrade" | "throw";
  readonly outboxPath: string | null;
  readonly replayIntervalMs: number;
  readonly budgetIntervalMs: number;
  readonly defaultTimeoutMs: number;
  readonly timeouts: Readonly<Record<string, number>>;
  readonly defaultMaxAttempts: number;
  readonly slowQueryMs: number;
  readonly busyTimeoutMs: number;
  readonly durability: "normal" | "full";
  readonly leaseMs: number;
  readonly watchdogIntervalMs: number;
  readonly staleAfterMs: number | null;
  readonly maxWaitMs: Readonly<{ normal?: number; low?: number }>;
  readonly retentionDays: number | null;
  readonly retentionMaxRequests: number | null;
  readonly shutdownGraceMs: number;
  readonly labelFields: readonly string[];
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
}

export const DEFAULT_STORAGE = "data/reqtrack.db";
export const DEFAULT_TIMEOUT_MS = 5 * 60_000;

const milliseconds = z.number();
/** Names and types of `TrackerOptions` (`satisfies` keeps the two in step); ranges are below. */
const trackerOptionsSchema = z
  .strictObject({
    storage: z.custom<string | Store>(
      (v) => typeof v === "string" || (typeof v === "object" && v !== null && "driver" in v),
      'must be a SQLite file path, ":memory:", a postgres:// URL or a Store',
    ),
    postgres: z
      .strictObject({
        schema: z.string(),
        maxConnections: z.number(),
        preparedStatements: z.boolean(),
        listenConnectionString: z.string(),
      } satisfies Record<keyof PostgresOptions, z.ZodType>)
      .partial(),
    clock: functionOption("() => epoch milliseconds"),
    logger: loggerOption,
    redactPrompts: z.boolean(),
    onStoreError: z.enum(["degrade", "throw"]),
    outboxPath: z.string(),
    replayIntervalMs: milliseconds,
    budgetIntervalMs: milliseconds,
    defaultTimeoutMs: milliseconds,
    timeouts: z.record(z.string(), milliseconds),
    defaultMaxAttempts: z.number(),
    slowQueryMs: milliseconds,
    busyTimeoutMs: milliseconds,
    durability: z.enum(["normal", "full"]),
    leaseMs: milliseconds,
    watchdogIntervalMs: milliseconds,
    staleAfterMs: milliseconds.nullable(),
    maxWaitMs: z.strictObject({ normal: milliseconds, low: milliseconds }).partial(),
    retentionDays: z.number().nullable(),
    retentionMaxRequests: z.number().nullable(),
    shutdownGraceMs: milliseconds,
    labelFields: z.array(z.string()),
    pageSize: z.strictObject({ default: z.number(), max: z.number() }).partial(),
  } satisfies Record<keyof TrackerOptions, z.ZodType>)
  .partial();

/** Names users reach for that reqtrack spells otherwise. */
const TRACKER_HINTS = {
  logLevel: {
    option: "logger",
    note: "pass a pino logger at the level you want, or set REQTRACK_LOG_LEVEL",
  },
  level: { option: "logger", note: "or set REQTRACK_LOG_LEVEL" },
  maxSize: {
    option: "retentionMaxRequests",
    note: "the number of newest requests kept; retentionDays bounds them by age",
  },
  path: { option: "storage" },
  database: { option: "storage" },
  timeout: { option: "defaultTimeoutMs" },
  timeoutMs: { option: "defaultTimeoutMs" },
};

/**
 * Fills in defaults, checks the values, and freezes the result: options are read-only from here.
 * An unknown option or a value of the wrong type is a `ValidationError` naming the closest option.
 */
export function resolveOptions(options: TrackerOptions = {}): ResolvedOptions {
  checkOptions(trackerOptionsSchema, options, { where: "createTracker", hints: TRACKER_HINTS });
  const storage = options.storage ?? DEFAULT_STORAGE;
  const positive = (field: string, value: number | undefined, fallback: number) => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v <= 0)
      throw new ValidationError(field, "must be a positive number");
    return v;
  };
  const timeouts = { ...(options.timeouts ?? {}) };
  for (const [kind, ms] of Object.entries(timeouts)) positive(`timeouts.${kind}`, ms, 1);
  const onStoreError = options.onStoreError ?? "degrade";
  if (onStoreError !== "degrade" && onStoreError !== "throw") {
    throw new ValidationError("onStoreError", 'must be "degrade" or "throw"');
  }
  let outboxPath: string | null = options.outboxPath ?? null;
  // A PostgreSQL URL names no file to put the outbox beside: it stays in memory unless given.
  if (
    outboxPath === null &&
    typeof storage === "string" &&
    storage !== ":memory:" &&
    !isPostgresUrl(storage)
  ) {
    outboxPath = `${storage}.outbox.ndjson`;
  }
  return Object.freeze({
    storage,
    postgres: postgresOptions(storage, options.postgres),
    clock: options.clock ?? Date.now,
    logger: options.logger ?? createDefaultLogger(),
    redactPrompts: booleanOption("redactPrompts", options.redactPrompts, false),
    onStoreError,
    outboxPath,
    replayIntervalMs: positive("replayIntervalMs", options.replayIntervalMs, 1000),
    budgetIntervalMs: nonNegative("budgetIntervalMs", options.budgetIntervalMs, 5000),
    defaultTimeoutMs: positive("defaultTimeoutMs", options.defaultTimeoutMs, DEFAULT_TIMEOUT_MS),
    timeouts: Object.freeze(timeouts),
    defaultMaxAttempts: positive("defaultMaxAttempts", options.defaultMaxAttempts, 3),
    slowQueryMs: positive("slowQueryMs", options.slowQueryMs, 100),
    busyTimeoutMs: positive("busyTimeoutMs", options.busyTimeoutMs, 2000),
    durability: options.durability ?? "normal",
    leaseMs: positive("leaseMs", options.leaseMs, 30_000),
    watchdogIntervalMs: nonNegative("watchdogIntervalMs", options.watchdogIntervalMs, 1000),
    staleAfterMs:
      options.staleAfterMs == null ? null : positive("staleAfterMs", options.staleAfterMs, 1),
    maxWaitMs: Object.freeze({
      ...(options.maxWaitMs?.normal !== undefined
        ? { normal: positive("maxWaitMs.normal", options.maxWaitMs.normal, 1) }
        : {}),
      ...(options.maxWaitMs?.low !== undefined
        ? { low: positive("maxWaitMs.low", options.maxWaitMs.low, 1) }
        : {}),
    }),
    retentionDays: retentionDays(options.retentionDays),
    retentionMaxRequests:
      options.retentionMaxRequests == null
        ? null
        : positive("retentionMaxRequests", options.retentionMaxRequests, 1),
    shutdownGraceMs: nonNegative("shutdownGraceMs", options.shutdownGraceMs, 10_000),
    labelFields: labelFields(options.labelFields),
    ...pageSizes(options.pageSize),
  });
}

/** Prometheus label names, which are also safe log keys. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;

function labelFields(fields: string[] | undefined): readonly string[] {
  if (fields === undefined) return Object.freeze([]);
  if (!Array.isArray(fields)) throw new ValidationError("labelFields", "must be an array");
  for (const field of fields) {
    if (
      typeof field !== "string" ||
      !LABEL_NAME.test(field) ||
      ["status", "kind"].includes(field)
    ) {
      throw new ValidationError(
        "labelFields",
        `${JSON.stringify(field)} is not a label name: use letters, digits and _ (not status or kind)`,
      );
    }
  }
  return Object.freeze([...new Set(fields)]);
}

function pageSizes(option: { default?: number; max?: number } | undefined) {
  const whole = (field: string, value: number | undefined, fallback: number) => {
    const v = value ?? fallback;
    if (!Number.isSafeInteger(v) || v < 1 || v > 1000) {
      throw new ValidationError(field, "must be a whole number from 1 to 1000");
    }
    return v;
  };
  const maxPageSize = whole("pageSize.max", option?.max, 1000);
  const defaultPageSize = whole("pageSize.default", option?.default, Math.min(50, maxPageSize));
  if (defaultPageSize > maxPageSize) {
    throw new ValidationError(
      "pageSize.default",
      `must not be above pageSize.max (${maxPageSize})`,
    );
  }
  return { defaultPageSize, maxPageSize };
}

/** PostgreSQL identifiers without quoting; the 63 is PostgreSQL's NAMEDATALEN - 1. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

function postgresOptions(
  storage: string | Store,
  options: PostgresOptions | undefined,
): Readonly<PostgresOptions> {
  const given = Object.entries(options ?? {}).filter(([, value]) => value !== undefined);
  if (given.length === 0) return Object.freeze({});
  if (typeof storage !== "string" || !isPostgresUrl(storage)) {
    throw new ValidationError(
      "postgres",
      typeof storage === "string"
        ? `only for a postgres:// storage (storage is ${JSON.stringify(storage)})`
        : "only for a postgres:// storage that createTracker opens, not for a Store passed in",
    );
  }
  const { schema, maxConnections, preparedStatements, listenConnectionString } = options ?? {};
  if (schema !== undefined) {
    if (typeof schema !== "string" || !SCHEMA_NAME.test(schema) || /^pg_/i.test(schema)) {
      throw new ValidationError(
        "postgres.schema",
        `${JSON.stringify(schema)} is not a schema name reqtrack accepts: use 1 to 63 letters, digits, _ or $, starting with a letter or _ (and not with pg_, which PostgreSQL reserves)`,
      );
    }
  }
  if (
    maxConnections !== undefined &&
    (!Number.isSafeInteger(maxConnections) || maxConnections < 1)
  ) {
    throw new ValidationError("postgres.maxConnections", "must be a whole number of 1 or more");
  }
  if (preparedStatements !== undefined && typeof preparedStatements !== "boolean") {
    throw new ValidationError("postgres.preparedStatements", "must be true or false");
  }
  if (listenConnectionString !== undefined && !isPostgresUrl(String(listenConnectionString))) {
    throw new ValidationError(
      "postgres.listenConnectionString",
      "must be a postgres:// URL (a direct connection to PostgreSQL, not through pgbouncer)",
    );
  }
  return Object.freeze({
    ...(schema !== undefined ? { schema } : {}),
    ...(maxConnections !== undefined ? { maxConnections } : {}),
    ...(preparedStatements !== undefined ? { preparedStatements } : {}),
    ...(listenConnectionString !== undefined ? { listenConnectionString } : {}),
  });
}

function booleanOption(field: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new ValidationError(field, "must be true or false");
  return value;
}

function nonNegative(field: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new ValidationError(field, "must be zero or more");
  return v;
}

/** The option wins; else the REQUEST_RETENTION_DAYS variable; unset means keep forever. */
function retentionDays(option: number | null | undefined): number | null {
  if (option === null) return null;
  const [field, raw] =
    option !== undefined
      ? ["retentionDays", option]
      : ["REQUEST_RETENTION_DAYS", process.env.REQUEST_RETENTION_DAYS];
  if (raw === undefined || raw === "") return null;
  const days = Number(raw);
  if (!Number.isFinite(days) || days <= 0) {
    throw new ValidationError(field, "must be a positive number of days");
  }
  return days;
}
