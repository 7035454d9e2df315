import { fromJsonText } from "../core/json.js";
import { microsToUsd } from "../core/request-fields.js";
import type {
  ApiKey,
  ApiKeyRole,
  Cost,
  JsonValue,
  PriceUsed,
  RequestEvent,
  Severity,
  Stage,
  StageStatus,
} from "../core/types.js";

// The requests row and its mapping are the request-field catalogue's (core/request-fields.ts).
export { microsToUsd, type RequestRow, toRequestRecord } from "../core/request-fields.js";

/** Row shapes as the SQL drivers return them (snake_case, epoch ms, JSON as text). */
export interface StageRow {
  name: string;
  attempt: number;
  status: string;
  started_at: number;
  completed_at: number | null;
  duration_ms: number | null;
  output: string | null;
  error_message: string | null;
  error_details: string | null;
  retryable: number | boolean | null;
  reused_from?: string | null;
}

export interface CostRow {
  service: string;
  amount_micros: number;
  usage: string | null;
  stage: string | null;
  ts: number;
  price?: string | null;
}

export interface EventRow {
  request_id: string;
  ts: number;
  type: string;
  stage: string | null;
  severity: string;
  message: string;
  data: string | null;
}

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

export function toStage(row: StageRow): Stage {
  return {
    name: row.name,
    attempt: row.attempt,
    status: row.status as StageStatus,
    startedAt: new Date(row.started_at),
    completedAt: date(row.completed_at),
    durationMs: row.duration_ms,
    output: fromJsonText(row.output),
    errorMessage: row.error_message,
    errorDetails: fromJsonText(row.error_details),
    retryable: row.retryable === null ? null : Boolean(row.retryable),
    reusedFrom: row.reused_from ?? null,
  };
}

export function toCost(row: CostRow): Cost {
  return {
    service: row.service,
    amountUsd: microsToUsd(row.amount_micros),
    amountMicros: row.amount_micros,
    usage: fromJsonText<JsonValue>(row.usage),
    stage: row.stage,
    ts: new Date(row.ts),
    price: fromJsonText<PriceUsed>(row.price ?? null),
  };
}

export function toEvent(row: EventRow, seq: number): RequestEvent {
  return {
    requestId: row.request_id,
    seq,
    ts: new Date(row.ts),
    type: row.type,
    stage: row.stage,
    severity: row.severity as Severity,
    message: row.message,
    data: fromJsonText(row.data),
  };
}

export interface ApiKeyRow {
  id: string;
  name: string | null;
  hash: string;
  role: string;
  tenant_id: string | null;
  created_at: number;
  revoked_at: number | null;
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    role: row.role as ApiKeyRole,
    tenantId: row.tenant_id,
    createdAt: new Date(row.created_at),
    revokedAt: date(row.revoked_at),
  };
}
