import type {
  JsonValue,
  Lane,
  PriceUsed,
  Request,
  RequestRecord,
  RequestStatus,
  Severity,
} from "./types.js";

/**
 * Write operations: what the tracker queues and a store driver commits in one
 * transaction per batch. Ops are plain JSON (times in epoch ms) so they can wait in the
 * outbox file when the store is down, and each carries an `opId` so that replaying them
 * twice applies them once.
 */
export interface NewRequest {
  id: string;
  priority: number;
  lane: Lane;
  userId: string;
  channelId: string | null;
  tenantId: string | null;
  sessionId: string | null;
  kind: string | null;
  source: string | null;
  tags: string[];
  initialMessage: string | null;
  input: JsonValue | null;
  intent: string | null;
  entities: JsonValue | null;
  parentId: string | null;
  correlationId: string | null;
  maxAttempts: number;
  timeoutMs: number;
  deadlineAt: number | null;
  createdAt: number;
  /** Held against enforce budgets until the request ends (absent in ops of older versions). */
  estimatedCostMicros?: number | null;
  /** The original, when this request is a replay. */
  replayOf?: string | null;
}

export interface ErrorInfo {
  message: string;
  stage?: string | null;
  details?: JsonValue | null;
}

interface OpBase {
  opId: string;
  at: number;
  /** Apply at most once per `opId` (ops from remote clients, which may resend). */
  dedupe?: boolean;
  /**
   * The only tenant whose requests this op may touch (ops from a tenant-confined API key).
   * A store answers an op on another tenant's request as if the request did not exist.
   */
  tenant?: string;
}

export interface CreateOp extends OpBase {
  type: "create";
  request: NewRequest;
}

export interface TransitionOp extends OpBase {
  type: "transition";
  requestId: string;
  to: RequestStatus;
  workerId?: string | null;
  /** With `to: "running"`: the lease the worker holds, renewed by heartbeats. */
  leaseMs?: number | null;
  result?: JsonValue | null;
  error?: ErrorInfo | null;
}

export interface StageOp extends OpBase {
  type: "stage";
  requestId: string;
  stage: string;
  action: "start" | "complete" | "fail";
  output?: JsonValue | null;
  error?: (ErrorInfo & { retryable: boolean }) | null;
}

export interface EventOp extends OpBase {
  type: "event";
  requestId: string;
  eventType: string;
  severity: Severity;
  message: string;
  stage: string | null;
  data: JsonValue | null;
}

export interface CostOp extends OpBase {
  type: "cost";
  requestId: string;
  service: string;
  amountMicros: number;
  usage: JsonValue | null;
  stage: string | null;
  /** The price the amount was computed from, when the table priced it. */
  price?: PriceUsed | null;
  /**
   * Built without an amount: the tracker computes it from the price table before it queues
   * the op (so stores and the outbox never see this set).
   */
  unpriced?: true;
}

export interface IncrementOp extends OpBase {
  type: "increment";
  requestId: string;
  counter: string;
  by: number;
}

/** Soft delete: hidden from lists and history, kept for cost figures until retention. */
export interface DeleteOp extends OpBase {
  type: "delete";
  requestId: string;
}

/**
 * Fields found after creation (`tracker.annotate`): intent and entities replace, tags are
 * added, metadata is merged into `input`. See `planAnnotation`.
 */
export interface AnnotateOp extends OpBase {
  type: "annotate";
  requestId: string;
  intent?: string | null;
  entities?: JsonValue | null;
  tags?: string[];
  metadata?: { [key: string]: JsonValue };
}

/**
 * A call created, started and ended within one batch, written as one op: the row goes in
 * already ended, with the events, rollups and change events the three ops would have made
 * (see tracker/finished-calls.ts, which folds them). Its `opId` is the create's. Answered
 * with `parts`, the three ops' own results; a store that finds the id taken applies the
 * three one by one instead, with the same answers as if they had never been folded.
 */
export interface FinishedOp extends OpBase {
  type: "finished";
  requestId: string;
  create: CreateOp;
  /** To `running`. */
  start: TransitionOp;
  /** To a terminal status. */
  end: TransitionOp;
}

export type Op =
  | CreateOp
  | TransitionOp
  | StageOp
  | EventOp
  | CostOp
  | IncrementOp
  | DeleteOp
  | AnnotateOp
  | FinishedOp;

/**
 * Queue ops. They are about "now" (which request is free, whose lease is alive), so unlike
 * `Op`s they are never kept in the outbox for later: while the store is down a claim finds
 * nothing and a heartbeat cannot be confirmed.
 */
export interface ClaimOp {
  type: "claim";
  at: number;
  workerId: string;
  kinds: string[] | null;
  leaseMs: number;
  /** Only requests of this tenant (claims through a tenant-scoped API key). */
  tenantId?: string | null;
}

export interface HeartbeatOp {
  type: "heartbeat";
  at: number;
  requestId: string;
  workerId: string;
}

/** Gives a running request back to the queue: its lease expired, or its worker let go. */
export interface RequeueOp {
  type: "requeue";
  at: number;
  requestId: string;
  workerId: string | null;
  reason: "lease_expired" | "released";
}

/** One watchdog pass at `at`. */
export interface SweepOp {
  type: "sweep";
  at: number;
  staleAfterMs: number | null;
  maxWaitMs: { normal?: number; low?: number };
  limit: number;
}

export type QueueOp = ClaimOp | HeartbeatOp | RequeueOp | SweepOp;

/** Anything a store applies in its write transaction. */
export type AnyOp = Op | QueueOp;

/**
 * The duplicate-id rule, the same in every driver: a create whose id is taken answers the
 * stored request only when it belongs to the same tenant (a resend); otherwise the id is
 * someone else's and the create fails without revealing anything about it.
 */
export function isSameTenantDuplicate(op: CreateOp, storedTenantId: string | null): boolean {
  return storedTenantId === op.request.tenantId;
}

/** Whether an op confined to a tenant may touch a request of `tenantId` (see `OpBase.tenant`). */
export function withinTenant(op: Op, tenantId: string | null): boolean {
  return op.tenant === undefined || op.tenant === tenantId;
}

export function isQueueOp(op: AnyOp): op is QueueOp {
  return (
    op.type === "claim" || op.type === "heartbeat" || op.type === "requeue" || op.type === "sweep"
  );
}

/** What a sweep changed, request by request, for logs and the sweep() result. */
export interface SweepChange {
  requestId: string;
  from: RequestStatus;
  to: RequestStatus;
  reason: "lease_expired" | "timeout" | "deadline" | "stale";
  attempts: number;
  errorMessage: string | null;
}

export interface SweepResult {
  changes: SweepChange[];
  promoted: number;
}

export type QueueResult =
  | { type: "claim"; request: Request | null }
  | { type: "heartbeat"; alive: boolean }
  | { type: "requeue"; change: SweepChange | null }
  | { type: "sweep"; result: SweepResult };

/**
 * A committed change, as live subscribers (SSE, metrics, other servers) see it. It carries
 * the request's tenant, kind and status so that subscribers can filter without a read.
 */
export interface ChangeEvent {
  type: "request.created" | "request.updated" | "stage.updated" | "event.logged";
  requestId: string;
  tenantId: string | null;
  kind: string | null;
  status: RequestStatus;
  at: number;
  data: { [key: string]: JsonValue };
}

/** What a transition did, for logs and metrics. */
export interface TransitionOutcome {
  from: RequestStatus;
  to: RequestStatus;
  noop: boolean;
  attempts: number;
  queueMs: number | null;
  durationMs: number | null;
  errorMessage: string | null;
}

export type OpResult =
  | {
      ok: true;
      created?: RequestRecord;
      duplicate?: boolean;
      transition?: TransitionOutcome;
      /** Accepted into the outbox while the store is down; applied on replay. */
      degraded?: boolean;
      /** A queue op's answer. */
      queue?: QueueResult;
      /** A queue op that could not run because the store is down (never outboxed). */
      unavailable?: boolean;
      /** What the op changed, for live subscribers. */
      changes?: ChangeEvent[];
      /** A finished op's answers to its create, start and end (their changes are above). */
      parts?: OpResult[];
    }
  | { ok: false; error: Error };
