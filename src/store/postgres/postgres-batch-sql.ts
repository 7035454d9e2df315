import type { NewRequest } from "../../core/ops.js";
import {
  columnsChangedBy,
  CREATE_COLUMNS,
  newRequestRow,
  REQUEST_FIELDS,
} from "../../core/request-fields.js";
import type { RequestRow } from "../rows.js";
import { ROLLUP_UPSERTS } from "./postgres-rollups.js";

// The requests, stages, events, costs and tags columns the PostgreSQL writer sends, with
// their array types, and the one statement that writes a whole batch.

/** A requests row as `SELECT *` returns it (rows.ts leaves out the queue's columns). */
export type Row = RequestRow & { lease_ms: number | null };

// The lifecycle columns (a batch rewrites them), then every column an insert sends: both
// from the request-field catalogue, in its order, with its PostgreSQL types.
export const MUTABLE_COLUMNS: readonly string[] = columnsChangedBy("lifecycle");
export const INSERT_COLUMNS: readonly string[] = [...CREATE_COLUMNS, ...MUTABLE_COLUMNS];
const COLUMN_TYPES: Record<string, string> = Object.fromEntries(
  REQUEST_FIELDS.map((field) => [field.column, field.postgres]),
);

const unnestOf = (columns: readonly string[], types: Record<string, string>) =>
  `unnest(${columns.map((c, i) => `$${i + 1}::${types[c]}[]`).join(", ")}) AS d(${columns.join(", ")})`;

// A plain INSERT, not ON CONFLICT: an id another server inserted since this batch read
// the rows fails the batch, which then runs op by op and answers that create as duplicate.
const INSERT_REQUESTS = `INSERT INTO requests (${INSERT_COLUMNS.join(", ")}, lane_at)
  SELECT ${INSERT_COLUMNS.join(", ")}, created_at FROM ${unnestOf(INSERT_COLUMNS, COLUMN_TYPES)}`;

const UPDATE_REQUESTS = `UPDATE requests r SET ${MUTABLE_COLUMNS.map((c) => `${c} = d.${c}`).join(", ")}
  FROM ${unnestOf(["id", ...MUTABLE_COLUMNS], COLUMN_TYPES)}
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
  return newRequestRow(r);
}
