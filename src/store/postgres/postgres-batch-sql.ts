import { toJsonText } from "../../core/json.js";
import type { NewRequest } from "../../core/ops.js";
import type { RequestRow } from "../rows.js";
import { ROLLUP_UPSERTS } from "./postgres-rollups.js";

// The requests, stages, events, costs and tags columns the PostgreSQL writer sends, with
// their array types, and the one statement that writes a whole batch.

/** A requests row as `SELECT *` returns it (rows.ts leaves out the queue's columns). */
export type Row = RequestRow & { lease_ms: number | null };

// The lifecycle columns, in LifecycleState order; `lifecycle` and `store` map them.
export const MUTABLE_COLUMNS = [
  "status",
  "started_at",
  "completed_at",
  "queue_ms",
  "duration_ms",
  "attempts",
  "worker_id",
  "lease_expires_at",
  "lease_ms",
  "result",
  "error_message",
  "error_stage",
  "error_details",
  "updated_at",
  "deleted_at",
  "cost_micros",
  "counters",
] as const;

const MUTABLE_TYPES: Record<(typeof MUTABLE_COLUMNS)[number], string> = {
  status: "text",
  started_at: "int8",
  completed_at: "int8",
  queue_ms: "int8",
  duration_ms: "int8",
  attempts: "int4",
  worker_id: "text",
  lease_expires_at: "int8",
  lease_ms: "int8",
  result: "text",
  error_message: "text",
  error_stage: "text",
  error_details: "text",
  updated_at: "int8",
  deleted_at: "int8",
  cost_micros: "int8",
  counters: "text",
};

export const INSERT_COLUMNS = [
  "id",
  "priority",
  "lane",
  "user_id",
  "channel_id",
  "tenant_id",
  "session_id",
  "kind",
  "source",
  "tags",
  "initial_message",
  "input",
  "intent",
  "entities",
  "parent_id",
  "correlation_id",
  "max_attempts",
  "timeout_ms",
  "deadline_at",
  "created_at",
  // Issue 15: estimates and replays (set at creation, never changed).
  "estimated_cost_micros",
  "replay_of",
  ...MUTABLE_COLUMNS,
] as const;

const INSERT_TYPES: Record<(typeof INSERT_COLUMNS)[number], string> = {
  ...MUTABLE_TYPES,
  id: "text",
  priority: "float8",
  lane: "text",
  user_id: "text",
  channel_id: "text",
  tenant_id: "text",
  session_id: "text",
  kind: "text",
  source: "text",
  tags: "text",
  initial_message: "text",
  input: "text",
  intent: "text",
  entities: "text",
  parent_id: "text",
  correlation_id: "text",
  max_attempts: "int4",
  timeout_ms: "int8",
  deadline_at: "int8",
  created_at: "int8",
  estimated_cost_micros: "int8",
  replay_of: "text",
};

const unnestOf = (columns: readonly string[], types: Record<string, string>) =>
  `unnest(${columns.map((c, i) => `$${i + 1}::${types[c]}[]`).join(", ")}) AS d(${columns.join(", ")})`;

// A plain INSERT, not ON CONFLICT: an id another server inserted since this batch read
// the rows fails the batch, which then runs op by op and answers that create as duplicate.
const INSERT_REQUESTS = `INSERT INTO requests (${INSERT_COLUMNS.join(", ")}, lane_at)
  SELECT ${INSERT_COLUMNS.join(", ")}, created_at FROM ${unnestOf(INSERT_COLUMNS, INSERT_TYPES)}`;

const UPDATE_REQUESTS = `UPDATE requests r SET ${MUTABLE_COLUMNS.map((c) => `${c} = d.${c}`).join(", ")}
  FROM ${unnestOf(["id", ...MUTABLE_COLUMNS], { id: "text", ...MUTABLE_TYPES })}
  WHERE r.id = d.id`;

export const STAGE_COLUMNS = [
  "request_id",
  "name",
  "attempt",
  "status",
  "started_at",
  "completed_at",
  "duration_ms",
  "output",
  "error_message",
  "error_details",
  "retryable",
] as const;

const STAGE_TYPES: Record<(typeof STAGE_COLUMNS)[number], string> = {
  request_id: "text",
  name: "text",
  attempt: "int4",
  status: "text",
  started_at: "int8",
  completed_at: "int8",
  duration_ms: "int8",
  output: "text",
  error_message: "text",
  error_details: "text",
  retryable: "bool",
};

const INSERT_STAGES = `INSERT INTO stages (${STAGE_COLUMNS.join(", ")})
  SELECT * FROM ${unnestOf(STAGE_COLUMNS, STAGE_TYPES)}`;

// Rows come out of unnest in array order, so event ids follow the order of the ops.
const INSERT_EVENTS = `INSERT INTO events (request_id, ts, type, stage, severity, message, data)
  SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
  $7::text[])`;

const INSERT_COSTS = `INSERT INTO costs (request_id, ts, service, amount_micros, usage, stage,
  price) SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::text[],
  $6::text[], $7::text[])`;

const INSERT_TAGS = `INSERT INTO request_tags (tag, request_id)
  SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`;

// Only the ends of runs are rewritten (a loaded stage's output is not read, and a running
// stage has none).
const END_STAGES = `UPDATE stages s SET status = d.status, completed_at = d.completed_at,
  duration_ms = d.duration_ms, output = coalesce(d.output, s.output),
  error_message = d.error_message, error_details = d.error_details, retryable = d.retryable
  FROM ${unnestOf(STAGE_COLUMNS, STAGE_TYPES)}
  WHERE s.request_id = d.request_id AND s.name = d.name AND s.attempt = d.attempt`;

// Annotations are rare: their columns stay out of UPDATE_REQUESTS (which would send every
// changed row's input back), and go in a statement of their own after the batch's.
export const ANNOTATE_REQUESTS = `UPDATE requests r SET intent = d.intent, entities = d.entities,
  tags = d.tags, input = d.input FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
  $5::text[]) AS d(id, intent, entities, tags, input) WHERE r.id = d.id`;

/**
 * Every write of a batch in one statement: each table's change is a data-modifying CTE fed
 * by arrays (empty ones write nothing), and the notifications go out from its SELECT. The
 * CTEs touch different rows, as they must: a row is never changed twice in one statement.
 * The text never varies, so each connection prepares it once.
 */
export const WRITE_BATCH = batchStatement([
  [INSERT_REQUESTS, INSERT_COLUMNS.length],
  [INSERT_TAGS, 2],
  [UPDATE_REQUESTS, 1 + MUTABLE_COLUMNS.length],
  [INSERT_STAGES, STAGE_COLUMNS.length],
  [END_STAGES, STAGE_COLUMNS.length],
  [INSERT_EVENTS, 7],
  [INSERT_COSTS, 7], // issue 15: + price
  ...ROLLUP_UPSERTS,
]);

/** The statements as CTEs, their $n renumbered after the ones before, then the NOTIFYs. */
function batchStatement(pieces: readonly (readonly [string, number])[]): string {
  let offset = 0;
  const ctes = pieces.map(([text, width], i) => {
    const shift = offset;
    offset += width;
    return `w${i} AS (${text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + shift}`)})`;
  });
  return `WITH ${ctes.join(",\n")}
    SELECT count(pg_notify($${offset + 1}, payload)) FROM unnest($${offset + 2}::text[]) AS payload`;
}

/** The row of a request just created, before any op changed it. */
export function newRow(r: NewRequest): Row {
  return {
    id: r.id,
    status: "pending",
    priority: r.priority,
    lane: r.lane,
    user_id: r.userId,
    channel_id: r.channelId,
    tenant_id: r.tenantId,
    session_id: r.sessionId,
    kind: r.kind,
    source: r.source,
    tags: JSON.stringify(r.tags),
    initial_message: r.initialMessage,
    input: toJsonText(r.input),
    intent: r.intent,
    entities: toJsonText(r.entities),
    parent_id: r.parentId,
    correlation_id: r.correlationId,
    result: null,
    error_message: null,
    error_stage: null,
    error_details: null,
    attempts: 0,
    max_attempts: r.maxAttempts,
    timeout_ms: r.timeoutMs,
    worker_id: null,
    lease_expires_at: null,
    deadline_at: r.deadlineAt,
    created_at: r.createdAt,
    started_at: null,
    completed_at: null,
    updated_at: r.createdAt,
    deleted_at: null,
    queue_ms: null,
    duration_ms: null,
    cost_micros: 0,
    counters: "{}",
    lease_ms: null,
    estimated_cost_micros: r.estimatedCostMicros ?? null, // issue 15
    replay_of: r.replayOf ?? null,
  };
}
