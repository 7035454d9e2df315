import { traceIdFor } from "../context/trace-parent.js";
import { ValidationError } from "../core/errors.js";
import { newRequestId } from "../core/ids.js";
import { jsonProblem } from "../core/json.js";
import { normalizeNewRequest } from "../core/pending-request.js";
import type {
  AnnotateOp,
  ContextOp,
  CostOp,
  CreateOp,
  DeleteOp,
  EventOp,
  IncrementOp,
  StageOp,
  TransitionOp,
} from "../core/ops.js";
import {
  annotateSchema,
  ID_PATTERN,
  NAME_PATTERN,
  contextSchema,
  counterSchema,
  createRequestSchema,
  type ErrorInput,
  errorInfoSchema,
  logEventSchema,
  nameSchema,
  parse,
  recordCostSchema,
  requestId,
  stageFailureSchema,
} from "../core/schemas.js";
import type { JsonValue, RequestStatus } from "../core/types.js";
import { laneFor } from "../core/lanes.js";
import type { ResolvedOptions } from "./options.js";

/** Where an op comes from: its id (for exactly-once replays and ingest) and its time. */
export interface OpOrigin {
  opId: string;
  at: number;
}

/**
 * Turns validated public input into ops. Every write path (the tracker's methods, HTTP
 * ingest) builds its ops here, so validation and defaults exist once. Throws
 * `ValidationError` naming the field; builds nothing on bad input.
 */
export class OpBuilder {
  constructor(private readonly options: ResolvedOptions) {}

  requestId(id: unknown, field = "id"): string {
    return parse(requestId, id, field);
  }

  create(input: unknown, origin: OpOrigin): CreateOp {
    const data = parse(createRequestSchema, input);
    const id = data.id ?? newRequestId(origin.at);
    // Made here when none is given, so that the stored id is the one every outgoing call
    // carries: for a `req_<uuid>` id it is that UUID's hex, the request's own trace id.
    const correlationId = data.correlationId ?? traceIdFor(id, null);
    const values = normalizeNewRequest(data, { id, at: origin.at, correlationId });
    return {
      type: "create",
      ...origin,
      request: {
        ...values,
        maxAttempts: values.maxAttempts ?? this.options.defaultMaxAttempts,
        timeoutMs: values.timeoutMs ?? this.timeoutFor(data.kind),
      },
    };
  }

  /**
   * `create` for an input reqtrack built itself from values it has already bounded (the HTTP
   * middleware: an id it made or checked, a kind from its route table, extracted strings of
   * 1 to 256 characters): the same op without the zod parse, which was 4% of a tracked call.
   * Each field is checked here by the schema's own rule; an input that breaks one goes through
   * `create`, so that the error names the field exactly as before.
   */
  createTrusted(input: TrustedCreateInput, origin: OpOrigin): CreateOp {
    if (!isTrusted(input)) return this.create(input, origin);
    return {
      type: "create",
      ...origin,
      request: {
        id: input.id,
        priority: 0.5,
        lane: laneFor(0.5),
        userId: input.userId,
        channelId: null,
        tenantId: input.tenantId ?? null,
        sessionId: input.sessionId ?? null,
        kind: input.kind,
        source: input.source,
        tags: [],
        initialMessage: null,
        input: { method: input.input.method, route: input.input.route },
        intent: null,
        entities: null,
        parentId: null,
        correlationId: input.correlationId,
        maxAttempts: this.options.defaultMaxAttempts,
        timeoutMs: this.timeoutFor(input.kind),
        deadlineAt: null,
        createdAt: origin.at,
        estimatedCostMicros: null,
        replayOf: null,
      },
    };
  }

  /** The `pending -> running` transition of a request whose id `createTrusted` checked. */
  startTrusted(id: string, origin: OpOrigin): TransitionOp {
    return { type: "transition", ...origin, requestId: id, to: "running" };
  }

  /** `running -> completed` with the middleware's outcome; other values take `transition`. */
  completeTrusted(
    id: string,
    outcome: { statusCode: number; route: string | null; processingMs: number },
    origin: OpOrigin,
  ): TransitionOp {
    const { statusCode, route, processingMs } = outcome;
    if (
      !ID_PATTERN.test(id) ||
      !Number.isFinite(statusCode) ||
      !Number.isFinite(processingMs) ||
      (route !== null && typeof route !== "string")
    ) {
      return this.transition(id, "completed", { result: outcome }, origin);
    }
    return {
      type: "transition",
      ...origin,
      requestId: id,
      to: "completed",
      result: { statusCode, route, processingMs },
    };
  }

  /** A status change; `reason` (cancel) and `error` (fail) become the error message. */
  transition(
    id: unknown,
    to: RequestStatus,
    fields: {
      workerId?: unknown;
      result?: unknown;
      error?: ErrorInput | string | unknown;
      reason?: unknown;
    },
    origin: OpOrigin,
  ): TransitionOp {
    const op: TransitionOp = { type: "transition", ...origin, requestId: this.requestId(id), to };
    if (fields.workerId !== undefined && fields.workerId !== null) {
      op.workerId = parse(nameSchema, fields.workerId, "workerId");
    }
    if (fields.result !== undefined) op.result = checkJson("result", fields.result);
    if (fields.error !== undefined) {
      const error = typeof fields.error === "string" ? { message: fields.error } : fields.error;
      const info = parse(errorInfoSchema, error, "error");
      op.error = {
        message: info.message,
        stage: info.stage ?? null,
        details: (info.details as JsonValue) ?? null,
      };
    } else if (to === "cancelled") {
      const reason = fields.reason ?? "cancelled";
      if (typeof reason !== "string" || reason.length > 2000) {
        throw new ValidationError("reason", "must be a string of at most 2000 characters");
      }
      op.error = { message: reason };
    }
    return op;
  }

  stage(
    id: unknown,
    stage: unknown,
    action: StageOp["action"],
    payload: { output?: unknown; failure?: unknown },
    origin: OpOrigin,
  ): StageOp {
    const op: StageOp = {
      type: "stage",
      ...origin,
      requestId: this.requestId(id),
      stage: parse(nameSchema, stage, "stage"),
      action,
    };
    if (action === "complete" && payload.output !== undefined) {
      op.output = checkJson("output", payload.output);
    }
    if (action === "fail") {
      const raw =
        typeof payload.failure === "string" ? { message: payload.failure } : payload.failure;
      const failure = parse(stageFailureSchema, raw, "failure");
      op.error = {
        message: failure.message,
        details: (failure.details as JsonValue) ?? null,
        retryable: failure.retryable,
      };
    }
    return op;
  }

  event(id: unknown, input: unknown, origin: OpOrigin): EventOp {
    const data = parse(logEventSchema, input, "event");
    return {
      type: "event",
      ...origin,
      requestId: this.requestId(id),
      eventType: data.type,
      severity: data.severity,
      message: data.message,
      stage: data.stage ?? null,
      data: (data.data as JsonValue | undefined) ?? null,
    };
  }

  /** Amounts become integer micro-USD here, so every later sum is exact. */
  cost(id: unknown, input: unknown, origin: OpOrigin): CostOp {
    const data = parse(recordCostSchema, input, "cost");
    const op: CostOp = {
      type: "cost",
      ...origin,
      requestId: this.requestId(id),
      service: data.service,
      amountMicros: Math.round((data.amountUsd ?? 0) * 1_000_000),
      usage: (data.usage as JsonValue | undefined) ?? null,
      stage: data.stage ?? null,
    };
    if (data.amountUsd === undefined) {
      if (op.usage === null) {
        throw new ValidationError(
          "amountUsd",
          "is required without usage (send usage with a model and token counts to price it)",
        );
      }
      op.unpriced = true;
    }
    return op;
  }

  increment(id: unknown, counter: unknown, by: unknown, origin: OpOrigin): IncrementOp {
    const amount = by ?? 1;
    if (typeof amount !== "number" || !Number.isFinite(amount)) {
      throw new ValidationError("by", "must be a finite number");
    }
    return {
      type: "increment",
      ...origin,
      requestId: this.requestId(id),
      counter: parse(counterSchema, counter, "counter"),
      by: amount,
    };
  }

  annotate(id: unknown, input: unknown, origin: OpOrigin): AnnotateOp {
    const data = parse(annotateSchema, input, "annotation");
    const op: AnnotateOp = { type: "annotate", ...origin, requestId: this.requestId(id) };
    if (data.intent !== undefined) op.intent = data.intent;
    if (data.entities !== undefined) op.entities = data.entities as JsonValue;
    if (data.tags !== undefined) op.tags = [...new Set(data.tags)];
    if (data.metadata !== undefined) op.metadata = data.metadata as { [key: string]: JsonValue };
    return op;
  }

  context(id: unknown, input: unknown, origin: OpOrigin): ContextOp {
    const data = parse(contextSchema, input, "context");
    const op: ContextOp = { type: "context", ...origin, requestId: this.requestId(id) };
    if (data.tenantId !== undefined) op.tenantId = data.tenantId;
    if (data.sessionId !== undefined) op.sessionId = data.sessionId;
    if (data.userId !== undefined) op.userId = data.userId;
    return op;
  }

  delete(id: unknown, origin: OpOrigin): DeleteOp {
    return { type: "delete", ...origin, requestId: this.requestId(id) };
  }

  private timeoutFor(kind: string | undefined): number {
    return (
      (kind !== undefined ? this.options.timeouts[kind] : undefined) ??
      this.options.defaultTimeoutMs
    );
  }
}

/** What the HTTP middleware creates a request with: see `OpBuilder.createTrusted`. */
export interface TrustedCreateInput {
  id: string;
  userId: string;
  kind: string;
  tenantId?: string | undefined;
  sessionId?: string | undefined;
  source: string;
  correlationId: string;
  input: { method: string; route: string | null };
}

/** Routes longer than this take the checked path (its JSON size limit is 1 MiB). */
const MAX_TRUSTED_ROUTE = 4096;

/** The schema's rules for these fields (createRequestSchema), checked without zod. */
function isTrusted(input: TrustedCreateInput): boolean {
  const { route, method } = input.input;
  return (
    ID_PATTERN.test(input.id) &&
    NAME_PATTERN.test(input.kind) &&
    isText(input.userId, 256) &&
    isText(input.source, 256) &&
    isText(input.correlationId, 128) &&
    (input.tenantId === undefined || isText(input.tenantId, 256)) &&
    (input.sessionId === undefined || isText(input.sessionId, 256)) &&
    typeof method === "string" &&
    method.length <= MAX_TRUSTED_ROUTE &&
    (route === null || (typeof route === "string" && route.length <= MAX_TRUSTED_ROUTE))
  );
}

/** `text(max)` of the schemas: a string of 1 to `max` characters without NUL. */
function isText(value: unknown, max: number): boolean {
  return (
    typeof value === "string" &&
    value.length > 0 &&
    value.length <= max &&
    !value.includes("\u0000")
  );
}

function checkJson(field: string, value: unknown): JsonValue {
  const problem = jsonProblem(value);
  if (problem) throw new ValidationError(field, problem);
  return value as JsonValue;
}
