import { fromJsonText, toJsonText } from "./json.js";
import type { LifecycleState } from "./lifecycle.js";
import type { NewRequest } from "./ops.js";
import type { RequestRecord } from "./types.js";

/**
 * How a field's column value becomes the record's: as stored, JSON text parsed (`json`: null
 * stays null; `jsonText`: a NOT NULL array or object), epoch ms to a Date (`date`), or integer
 * micro-USD to USD (`usd`).
 */
export type FieldCodec = "value" | "json" | "jsonText" | "date" | "usd";

/**
 * Which writes change a column after creation: `never`; `lifecycle` (transitions, stages,
 * costs, counters, deletes, queue: what a batch rewrites); `annotation` (`annotate`);
 * `context` (`setContext`: who the request belongs to); `queue` (the queue's own statements).
 */
export type FieldChange = "never" | "lifecycle" | "annotation" | "context" | "queue";

export interface RequestField {
  /** The `RequestRecord` property; null for the queue's own columns, which records leave out. */
  property: keyof RequestRecord | null;
  column: string;
  sqlite: "TEXT" | "INTEGER" | "REAL";
  /** The PostgreSQL type as the writer's array casts name it (`int8[]`, ...). */
  postgres: "text" | "int4" | "int8" | "float8";
  nullable: boolean;
  codec: FieldCodec;
  change: FieldChange;
  /** Set at creation: the `NewRequest` property it comes from. */
  from?: keyof NewRequest;
  /** Not set at creation: the value a new row holds (`createdAt` means the creation time). */
  initial?: string | number | null;
  /** The migration declares a DEFAULT (the new row's value), so an insert may leave it out. */
  defaulted?: true;
  /** The `LifecycleState` property it holds: what transitions read and (if it changes) write. */
  state?: keyof LifecycleState;
}

const f = (
  property: RequestField["property"],
  column: string,
  sqlite: RequestField["sqlite"],
  postgres: RequestField["postgres"],
  rest: Partial<RequestField> = {},
): RequestField => ({
  property,
  column,
  sqlite,
  postgres,
  nullable: true,
  codec: "value",
  change: "never",
  ...rest,
});

const TEXT = ["TEXT", "text"] as const;
const BIGINT = ["INTEGER", "int8"] as const;
const required = { nullable: false };

/**
 * Every column of the requests table, declared once. The stores' column lists, insert
 * statements, row shape and row mapping, the pending view of a new request and the client's
 * wire view derive from it; test/store/request-fields.test.ts checks both migrated schemas
 * against it. The order is the PostgreSQL writer's insert order: fields set at creation,
 * then the ones a batch rewrites.
 */
export const REQUEST_FIELDS: readonly RequestField[] = [
  f("id", "id", ...TEXT, { ...required, from: "id" }),
  f("priority", "priority", "REAL", "float8", { ...required, from: "priority" }),
  f("lane", "lane", ...TEXT, { ...required, from: "lane" }),
  f("userId", "user_id", ...TEXT, { ...required, from: "userId", change: "context" }),
  f("channelId", "channel_id", ...TEXT, { from: "channelId" }),
  f("tenantId", "tenant_id", ...TEXT, { from: "tenantId", change: "context" }),
  f("sessionId", "session_id", ...TEXT, { from: "sessionId", change: "context" }),
  f("kind", "kind", ...TEXT, { from: "kind" }),
  f("source", "source", ...TEXT, { from: "source" }),
  f("tags", "tags", ...TEXT, {
    ...required,
    from: "tags",
    codec: "jsonText",
    change: "annotation",
    defaulted: true,
  }),
  f("initialMessage", "initial_message", ...TEXT, { from: "initialMessage" }),
  f("input", "input", ...TEXT, { from: "input", codec: "json", change: "annotation" }),
  f("intent", "intent", ...TEXT, { from: "intent", change: "annotation" }),
  f("entities", "entities", ...TEXT, { from: "entities", codec: "json", change: "annotation" }),
  f("parentId", "parent_id", ...TEXT, { from: "parentId" }),
  f("correlationId", "correlation_id", ...TEXT, { from: "correlationId" }),
  f("maxAttempts", "max_attempts", "INTEGER", "int4", {
    ...required,
    from: "maxAttempts",
    state: "maxAttempts",
  }),
  f("timeoutMs", "timeout_ms", ...BIGINT, { ...required, from: "timeoutMs", state: "timeoutMs" }),
  f("deadline", "deadline_at", ...BIGINT, { from: "deadlineAt", codec: "date" }),
  f("createdAt", "created_at", ...BIGINT, {
    ...required,
    from: "createdAt",
    codec: "date",
    state: "createdAt",
  }),
  f("estimatedCostUsd", "estimated_cost_micros", ...BIGINT, {
    from: "estimatedCostMicros",
    codec: "usd",
  }),
  f("replayOf", "replay_of", ...TEXT, { from: "replayOf" }),
  ...lifecycleFields(),
  // The queue's aging clock: when the request entered its lane (set to created_at).
  f(null, "lane_at", ...BIGINT, { initial: "createdAt", change: "queue" }),
];

function lifecycleFields(): RequestField[] {
  const changed = (state: keyof LifecycleState, rest: Partial<RequestField> = {}) => ({
    change: "lifecycle" as const,
    state,
    initial: null,
    ...rest,
  });
  return [
    f("status", "status", ...TEXT, { ...required, ...changed("status", { initial: "pending" }) }),
    f("startedAt", "started_at", ...BIGINT, changed("startedAt", { codec: "date" })),
    f("completedAt", "completed_at", ...BIGINT, changed("completedAt", { codec: "date" })),
    f("queueMs", "queue_ms", ...BIGINT, changed("queueMs")),
    f("durationMs", "duration_ms", ...BIGINT, changed("durationMs")),
    f("attempts", "attempts", "INTEGER", "int4", {
      ...required,
      ...changed("attempts", { initial: 0, defaulted: true }),
    }),
    f("workerId", "worker_id", ...TEXT, changed("workerId")),
    f(
      "leaseExpiresAt",
      "lease_expires_at",
      ...BIGINT,
      changed("leaseExpiresAt", { codec: "date" }),
    ),
    // The lease a running request's worker holds, renewed by heartbeats (queue only).
    f(null, "lease_ms", ...BIGINT, changed("leaseMs")),
    f("result", "result", ...TEXT, changed("result", { codec: "json" })),
    f("errorMessage", "error_message", ...TEXT, changed("errorMessage")),
    f("errorStage", "error_stage", ...TEXT, changed("errorStage")),
    f("errorDetails", "error_details", ...TEXT, changed("errorDetails", { codec: "json" })),
    f("updatedAt", "updated_at", ...BIGINT, {
      ...required,
      change: "lifecycle",
      codec: "date",
      initial: "createdAt",
    }),
    f("deletedAt", "deleted_at", ...BIGINT, {
      change: "lifecycle",
      codec: "date",
      initial: null,
    }),
    f("costUsd", "cost_micros", ...BIGINT, {
      ...required,
      change: "lifecycle",
      codec: "usd",
      initial: 0,
      defaulted: true,
    }),
    f("counters", "counters", ...TEXT, {
      ...required,
      change: "lifecycle",
      codec: "jsonText",
      initial: "{}",
      defaulted: true,
    }),
  ];
}

/** The fields a record has (every one but the queue's own columns). */
const RECORD_FIELDS = REQUEST_FIELDS.filter((field) => field.property !== null);

/** The columns set at creation, in catalogue order. */
export const CREATE_COLUMNS = REQUEST_FIELDS.filter((field) => field.from).map((x) => x.column);

/**
 * The columns an insert must name: the ones set at creation and the ones whose first value
 * is neither null nor the schema's DEFAULT (status, updated_at, lane_at).
 */
export const INSERTED_COLUMNS = REQUEST_FIELDS.filter(
  (field) => field.from || (field.initial !== null && !field.defaulted),
).map((x) => x.column);

/** The columns one kind of write changes, in catalogue order. */
export function columnsChangedBy(change: FieldChange): string[] {
  return REQUEST_FIELDS.filter((field) => field.change === change).map((x) => x.column);
}

/** A lifecycle state property and the column that stores it. */
export interface LifecycleColumn {
  state: keyof LifecycleState;
  column: string;
}

/** Every column a `LifecycleState` is read from, in catalogue order. */
export const LIFECYCLE_READ: readonly LifecycleColumn[] = REQUEST_FIELDS.flatMap((field) =>
  field.state ? [{ state: field.state, column: field.column }] : [],
);

/**
 * The columns a lifecycle change writes: the state's, except those fixed at creation
 * (`created_at`, `max_attempts`, `timeout_ms`). `updated_at` is the writer's own.
 */
export const LIFECYCLE_WRITTEN: readonly LifecycleColumn[] = REQUEST_FIELDS.flatMap((field) =>
  field.state && field.change === "lifecycle" ? [{ state: field.state, column: field.column }] : [],
);

/** The lifecycle state of a requests row (snake_case columns). */
export function lifecycleOfRow(row: object): LifecycleState {
  const state: Record<string, unknown> = {};
  const values = row as Readonly<Record<string, unknown>>;
  for (const { state: key, column } of LIFECYCLE_READ) state[key] = values[column];
  return state as unknown as LifecycleState;
}

/** Writes the columns a lifecycle change writes from `state` into `row` and returns it. */
export function writeLifecycle<T extends object>(row: T, state: LifecycleState): T {
  const target = row as Record<string, unknown>;
  for (const { state: key, column } of LIFECYCLE_WRITTEN) target[column] = state[key];
  return row;
}

/**
 * A requests row as the SQL drivers return it (snake_case, epoch ms, JSON as text), without
 * the queue's own columns. The list stays in step with REQUEST_FIELDS through `toRequestRecord`
 * (a field without its column here would read undefined) and the schema test.
 */
export interface RequestRow {
  id: string;
  status: string;
  priority: number;
  lane: string;
  user_id: string;
  channel_id: string | null;
  tenant_id: string | null;
  session_id: string | null;
  kind: string | null;
  source: string | null;
  tags: string;
  initial_message: string | null;
  input: string | null;
  intent: string | null;
  entities: string | null;
  parent_id: string | null;
  correlation_id: string | null;
  result: string | null;
  error_message: string | null;
  error_stage: string | null;
  error_details: string | null;
  attempts: number;
  max_attempts: number;
  timeout_ms: number;
  worker_id: string | null;
  lease_expires_at: number | null;
  deadline_at: number | null;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  updated_at: number;
  deleted_at: number | null;
  queue_ms: number | null;
  duration_ms: number | null;
  cost_micros: number;
  counters: string;
  estimated_cost_micros: number | null;
  replay_of: string | null;
}

/** Micro-USD to USD. Integer micros keep sums exact; the division happens once, at the edge. */
export const microsToUsd = (micros: number): number => micros / 1_000_000;

const DECODE: Record<FieldCodec, (value: unknown) => unknown> = {
  value: (v) => v ?? null,
  json: (v) => fromJsonText(v as string | null),
  jsonText: (v) => JSON.parse(v as string),
  date: (v) => (v === null || v === undefined ? null : new Date(v as number)),
  usd: (v) => (v === null || v === undefined ? null : microsToUsd(v as number)),
};

/** The record of a stored row. Columns added after a row's version (absent) read as null. */
export function toRequestRecord(row: RequestRow): RequestRecord {
  const values = row as unknown as Record<string, unknown>;
  const record: Record<string, unknown> = {};
  for (const field of RECORD_FIELDS) {
    record[field.property as string] = DECODE[field.codec](values[field.column]);
  }
  return record as unknown as RequestRecord;
}

/** The row a new request is stored as, queue columns included, before any op changed it. */
export function newRequestRow(r: NewRequest): RequestRow & { lease_ms: null; lane_at: number } {
  const row: Record<string, unknown> = {};
  for (const field of REQUEST_FIELDS) {
    row[field.column] = field.from ? encodeNew(field, r[field.from]) : initialValue(field, r);
  }
  return row as unknown as RequestRow & { lease_ms: null; lane_at: number };
}

/**
 * The record of a request just created, as its creator sees it before any op changed it:
 * what `toRequestRecord(newRequestRow(r))` reads, without writing the JSON out and back.
 */
export function newRequestRecord<T extends NewRequestValues>(r: T): RequestRecord {
  const record: Record<string, unknown> = {};
  for (const field of RECORD_FIELDS) {
    const value = field.from ? (r as Record<string, unknown>)[field.from] : initialValue(field, r);
    // A creator's JSON values are parsed already; the rest is decoded as a stored row's.
    const parsed =
      field.from !== undefined && (field.codec === "json" || field.codec === "jsonText");
    record[field.property as string] = parsed ? (value ?? null) : DECODE[field.codec](value);
  }
  return record as unknown as RequestRecord;
}

/** A new request's values; a client may not know the server's defaults (null there). */
export type NewRequestValues = Omit<NewRequest, "maxAttempts" | "timeoutMs"> & {
  maxAttempts: number | null;
  timeoutMs: number | null;
};

function encodeNew(field: RequestField, value: unknown): unknown {
  if (field.codec === "jsonText") return JSON.stringify(value);
  if (field.codec === "json") return toJsonText(value as never);
  // Absent in ops written by versions before the field existed.
  return value ?? null;
}

function initialValue(field: RequestField, r: { createdAt: number }): unknown {
  return field.initial === "createdAt" ? r.createdAt : (field.initial ?? null);
}
