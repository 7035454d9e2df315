import { randomUUID } from "node:crypto";
import { traceIdFor } from "../context/trace-parent.js";
import { ValidationError } from "../core/errors.js";
import { newRequestId } from "../core/ids.js";
import { jsonProblem } from "../core/json.js";
import { normalizeNewRequest, pendingRequestView } from "../core/pending-request.js";
import {
  annotateSchema,
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
    // The same rule as the tracker's, so the view already holds the id the server stores.
    const correlationId = data.correlationId ?? traceIdFor(id, null);
    const request = { ...data, id, correlationId, ...(deadline === null ? {} : { deadline }) };
    const view = pendingRequestView(
      normalizeNewRequest(data, { id, at: origin.at, correlationId }),
    );
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

  annotate(id: string, input: unknown): WireOp {
    return {
      ...this.origin(),
      type: "annotate",
      requestId: id,
      annotation: parse(annotateSchema, input, "annotation"),
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
