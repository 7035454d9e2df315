import { fromJsonText } from "../core/json.js";
import type {
  ApiKey,
  ApiKeyRole,
  Cost,
  JsonValue,
  Lane,
  PriceUsed,
  RequestEvent,
  RequestRecord,
  RequestStatus,
  Severity,
  Stage,
  StageStatus,
} from "../core/types.js";

/** Row shapes as the SQL drivers return them (snake_case, epoch ms, JSON as text). */
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
  /** Columns of migration 16 (SQLite) / 18 (PostgreSQL). */
  estimated_cost_micros: number | null;
  replay_of: string | null;
}

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

/** Micro-USD to USD. Integer micros keep sums exact; the division happens once, at the edge. */
export const microsToUsd = (micros: number): number => micros / 1_000_000;

export function toRequestRecord(row: RequestRow): RequestRecord {
  return {
    id: row.id,
    status: row.status as RequestStatus,
    priority: row.priority,
    lane: row.lane as Lane,
    userId: row.user_id,
    channelId: row.channel_id,
    tenantId: row.tenant_id,
    sessionId: row.session_id,
    kind: row.kind,
    source: row.source,
    tags: JSON.parse(row.tags) as string[],
    initialMessage: row.initial_message,
    input: fromJsonText(row.input),
    intent: row.intent,
    entities: fromJsonText(row.entities),
    parentId: row.parent_id,
    correlationId: row.correlation_id,
    result: fromJsonText(row.result),
    errorMessage: row.error_message,
    errorStage: row.error_stage,
    errorDetails: fromJsonText(row.error_details),
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    timeoutMs: row.timeout_ms,
    workerId: row.worker_id,
    leaseExpiresAt: date(row.lease_expires_at),
    deadline: date(row.deadline_at),
    createdAt: new Date(row.created_at),
    startedAt: date(row.started_at),
    completedAt: date(row.completed_at),
    updatedAt: new Date(row.updated_at),
    deletedAt: date(row.deleted_at),
    queueMs: row.queue_ms,
    durationMs: row.duration_ms,
    costUsd: microsToUsd(row.cost_micros),
    counters: JSON.parse(row.counters) as Record<string, number>,
    estimatedCostUsd:
      row.estimated_cost_micros === null || row.estimated_cost_micros === undefined
        ? null
        : microsToUsd(row.estimated_cost_micros),
    replayOf: row.replay_of ?? null,
  };
}

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
