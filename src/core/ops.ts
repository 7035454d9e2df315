import type { JsonValue, Lane, RequestRecord, RequestStatus, Severity } from "./types.js";

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
}

export interface ErrorInfo {
  message: string;
  stage?: string | null;
  details?: JsonValue | null;
}

interface OpBase {
  opId: string;
  at: number;
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
}

export interface IncrementOp extends OpBase {
  type: "increment";
  requestId: string;
  counter: string;
  by: number;
}

export type Op = CreateOp | TransitionOp | StageOp | EventOp | CostOp | IncrementOp;

/** What a transition did, for logs and metrics. */
export interface TransitionOutcome {
  from: RequestStatus;
  to: RequestStatus;
  noop: boolean;
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
    }
  | { ok: false; error: Error };
