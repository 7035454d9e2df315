import { randomUUID } from "node:crypto";
import { ValidationError } from "../core/errors.js";
import { newRequestId } from "../core/ids.js";
import { jsonProblem } from "../core/json.js";
import { laneFor } from "../core/lanes.js";
import {
  counterSchema,
  createRequestSchema,
  errorInfoSchema,
  logEventSchema,
  nameSchema,
  parse,
  recordCostSchema,
  requestId,
  stageFailureSchema,
} from "../core/schemas.js";
import type { JsonValue, Request, RequestStatus } from "../core/types.js";
import type { IngestOp } from "../tracker/ingest.js";

/** One op as `POST /api/v1/ingest` takes it, with the client's op id and time. */
export type WireOp = IngestOp & { opId: string; at: number; requestId: string };

/**
 * What `createRequest` returns: built on the client from the input, so it exists (and its id
 * can be used) before the server has seen it, even while the server is down. It is the
 * library's `Request` of a new pending request, except for the two values the server decides
 * from its own configuration when the input leaves them out.
 */
export type CreatedRequest = Omit<Request, "maxAttempts" | "timeoutMs"> & {
  /** The input's `maxAttempts`; null when the server's default applies. */
  maxAttempts: number | null;
  /** The input's `timeoutMs`; null when the server's default (per kind) applies. */
  timeoutMs: number | null;
};

/**
 * Turns method arguments into wire ops. It validates with the library's own schemas, so bad
 * input fails at once with the same `ValidationError` (same field) as in process, even while
 * the server is unreachable; the server validates again when the op arrives.
 */
export class WireBuilder {
  private readonly prefix = randomUUID();
  private counter = 0;

  constructor(private readonly clock: () => number) {}

  requestId(id: unknown): string {
    return parse(requestId, id, "id");
  }

  create(input: unknown): { op: WireOp; view: CreatedRequest } {
    const data = parse(createRequestSchema, input);
    const origin = this.origin();
    const id = data.id ?? newRequestId(origin.at);
    const deadline = data.deadline === undefined ? null : new Date(data.deadline).getTime();
    const request = { ...data, id, ...(deadline === null ? {} : { deadline }) };
    const created = new Date(origin.at);
    const view: CreatedRequest = {
      id,
      status: "pending",
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
      correlationId: data.correlationId ?? null,
      result: null,
      errorMessage: null,
      errorStage: null,
      errorDetails: null,
      attempts: 0,
      maxAttempts: data.maxAttempts ?? null,
      timeoutMs: data.timeoutMs ?? null,
      workerId: null,
      leaseExpiresAt: null,
      deadline: deadline === null ? null : new Date(deadline),
      createdAt: created,
      startedAt: null,
      completedAt: null,
      updatedAt: created,
      deletedAt: null,
      queueMs: null,
      durationMs: null,
      costUsd: 0,
      counters: {},
      estimatedCostUsd: data.estimatedCostUsd ?? null,
      replayOf: null,
      stages: [],
      costs: [],
    };
    return { op: { ...origin, type: "create", requestId: id, request }, view };
  }

  /** A status change; `reason` (cancel) and `error` (fail) become the error message. */
  transition(
    id: string,
    to: RequestStatus,
    fields: { workerId?: unknown; result?: unknown; error?: unknown; reason?: unknown },
  ): WireOp {
    const op: WireOp = { ...this.origin(), type: "transition", requestId: id, to };
    if (fields.workerId !== undefined && fields.workerId !== null) {
      op.workerId = parse(nameSchema, fields.workerId, "workerId");
    }
    if (fields.result !== undefined) op.result = checkJson("result", fields.result);
    if (fields.error !== undefined) {
      const error = typeof fields.error === "string" ? { message: fields.error } : fields.error;
      op.error = parse(errorInfoSchema, error, "error");
    } else if (fields.reason !== undefined) {
      if (typeof fields.reason !== "string" || fields.reason.length > 2000) {
        throw new ValidationError("reason", "must be a string of at most 2000 characters");
      }
      op.reason = fields.reason;
    }
    return op;
  }

  stage(
    id: string,
    stage: unknown,
    action: "start" | "complete" | "fail",
    payload: { output?: unknown; failure?: unknown } = {},
  ): WireOp {
    const op: WireOp = {
      ...this.origin(),
      type: "stage",
      requestId: id,
      stage: parse(nameSchema, stage, "stage"),
      action,
    };
    if (action === "complete" && payload.output !== undefined) {
      op.output = checkJson("output", payload.output);
    }
    if (action === "fail") {
      const raw =
        typeof payload.failure === "string" ? { message: payload.failure } : payload.failure;
      op.failure = parse(stageFailureSchema, raw, "failure");
    }
    return op;
  }

  event(id: string, input: unknown): WireOp {
    return {
      ...this.origin(),
      type: "event",
      requestId: id,
      event: parse(logEventSchema, input, "event"),
    };
  }

  cost(id: string, input: unknown): WireOp {
    return {
      ...this.origin(),
      type: "cost",
      requestId: id,
      cost: parse(recordCostSchema, input, "cost"),
    };
  }

  increment(id: string, counter: unknown, by: unknown): WireOp {
    const amount = by ?? 1;
    if (typeof amount !== "number" || !Number.isFinite(amount)) {
      throw new ValidationError("by", "must be a finite number");
    }
    return {
      ...this.origin(),
      type: "increment",
      requestId: id,
      counter: parse(counterSchema, counter, "counter"),
      by: amount,
    };
  }

  delete(id: string): WireOp {
    return { ...this.origin(), type: "delete", requestId: id };
  }

  /** Op ids are unique per client instance: a random prefix and a counter. */
  private origin(): { opId: string; at: number } {
    return { opId: `${this.prefix}:${++this.counter}`, at: this.clock() };
  }
}

function checkJson(field: string, value: unknown): JsonValue {
  const problem = jsonProblem(value);
  if (problem) throw new ValidationError(field, problem);
  return value as JsonValue;
}
