import type { NewRequest } from "./ops.js";
import type { Request } from "./types.js";

/** A request just created, as its creator sees it before any op changed it. */
export function pendingRequestView(r: NewRequest): Request {
  const created = new Date(r.createdAt);
  return {
    id: r.id,
    status: "pending",
    priority: r.priority,
    lane: r.lane,
    userId: r.userId,
    channelId: r.channelId,
    tenantId: r.tenantId,
    sessionId: r.sessionId,
    kind: r.kind,
    source: r.source,
    tags: r.tags,
    initialMessage: r.initialMessage,
    input: r.input,
    intent: r.intent,
    entities: r.entities,
    parentId: r.parentId,
    correlationId: r.correlationId,
    result: null,
    errorMessage: null,
    errorStage: null,
    errorDetails: null,
    attempts: 0,
    maxAttempts: r.maxAttempts,
    timeoutMs: r.timeoutMs,
    workerId: null,
    leaseExpiresAt: null,
    deadline: r.deadlineAt === null ? null : new Date(r.deadlineAt),
    createdAt: created,
    startedAt: null,
    completedAt: null,
    updatedAt: created,
    deletedAt: null,
    queueMs: null,
    durationMs: null,
    costUsd: 0,
    counters: {},
    estimatedCostUsd:
      r.estimatedCostMicros === null || r.estimatedCostMicros === undefined
        ? null
        : r.estimatedCostMicros / 1_000_000,
    replayOf: r.replayOf ?? null,
    stages: [],
    costs: [],
  };
}
