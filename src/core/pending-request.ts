import type { NewRequest } from "./ops.js";
import { laneFor } from "./lanes.js";
import { newRequestRecord, type NewRequestValues } from "./request-fields.js";
import type { CreateRequestData } from "./schemas.js";
import type { JsonValue, Request, RequestRecord } from "./types.js";

export type { NewRequestValues } from "./request-fields.js";

/** What the creator of a request decides: its id, time and correlation id (see traceIdFor). */
export interface NewRequestOrigin {
  id: string;
  at: number;
  correlationId: string;
}

/**
 * A parsed creation input as the values a new request is stored with: the one rule for
 * every creator (the tracker's op builder, the HTTP client's wire builder). `maxAttempts` and
 * `timeoutMs` stay null when the input leaves them out: only the tracker knows its defaults.
 */
export function normalizeNewRequest(
  data: CreateRequestData,
  origin: NewRequestOrigin,
): NewRequestValues {
  return {
    id: origin.id,
    priority: data.priority,
    lane: laneFor(data.priority),
    userId: data.userId,
    channelId: data.channelId ?? null,
    tenantId: data.tenantId ?? null,
    sessionId: data.sessionId ?? null,
    kind: data.kind ?? null,
    source: data.source ?? null,
    tags: [...new Set(data.tags)],
    initialMessage: data.initialMessage ?? null,
    input: (data.input as JsonValue | undefined) ?? null,
    intent: data.intent ?? null,
    entities: (data.entities as JsonValue | undefined) ?? null,
    parentId: data.parentId ?? null,
    correlationId: origin.correlationId,
    maxAttempts: data.maxAttempts ?? null,
    timeoutMs: data.timeoutMs ?? null,
    deadlineAt: data.deadline === undefined ? null : new Date(data.deadline).getTime(),
    createdAt: origin.at,
    estimatedCostMicros:
      data.estimatedCostUsd === undefined ? null : Math.round(data.estimatedCostUsd * 1e6),
    replayOf: null,
  };
}

/** A request just created, as its creator sees it before any op changed it. */
export function pendingRequestView(r: NewRequest): Request;
export function pendingRequestView(
  r: NewRequestValues,
): Omit<Request, "maxAttempts" | "timeoutMs"> & Pick<NewRequestValues, "maxAttempts" | "timeoutMs">;
export function pendingRequestView(
  r: NewRequestValues,
): RequestRecord & Pick<Request, "stages" | "costs"> {
  return { ...newRequestRecord(r), stages: [], costs: [] };
}
