import type { Logger } from "../context/logger.js";
import { promptPreview } from "../context/logger.js";
import { InvalidTransitionError } from "../core/errors.js";
import type { Op, OpResult } from "../core/ops.js";
import type { JsonValue } from "../core/types.js";

/**
 * The logging rules, in one place for every write path: creation at info (ids,
 * prompt length, parameters, at most 50 prompt characters unless `redactPrompts`), each transition at info
 * (old/new status, duration, error on failure; a finished run with `duration_seconds` and
 * the request's `labels`), a duplicate id at warn.
 */
export function logOutcome(
  logger: Logger,
  op: Op,
  result: OpResult,
  redactPrompts = false,
  labels?: Record<string, string>,
): void {
  if (!result.ok) return;
  if (op.type === "create") {
    const r = op.request;
    if (result.duplicate) {
      logger.warn({ request_id: r.id }, "request id exists; returning the existing request");
      return;
    }
    const prompt = r.initialMessage ?? promptOf(r.input);
    logger.info(
      {
        request_id: r.id,
        user_id: r.userId,
        tenant_id: r.tenantId,
        kind: r.kind,
        prompt_length: prompt?.length ?? 0,
        // redactPrompts: the length stays (it tells sizes apart), the text goes.
        prompt: redactPrompts ? undefined : promptPreview(prompt),
        parameters: parametersOf(r.input),
        degraded: result.degraded ? true : undefined,
      },
      "request created",
    );
    return;
  }
  if (op.type !== "transition") return;
  const outcome = result.transition;
  if (!outcome) {
    if (result.degraded) {
      logger.info(
        { request_id: op.requestId, new_status: op.to, degraded: true },
        "status changed",
      );
    }
    return;
  }
  if (outcome.noop) return;
  const failed = op.to === "failed" || op.to === "timeout" || op.to === "cancelled";
  const finished = failed || op.to === "completed";
  logger.info(
    {
      request_id: op.requestId,
      old_status: outcome.from,
      new_status: outcome.to,
      duration_ms: outcome.durationMs ?? undefined,
      // The timing metric of a finished run: status, duration_seconds and the request's labels.
      duration_seconds:
        finished && outcome.durationMs !== null ? outcome.durationMs / 1000 : undefined,
      labels: finished ? labels : undefined,
      queue_ms: op.to === "running" ? outcome.queueMs : undefined,
      error_message: failed ? outcome.errorMessage : undefined,
    },
    "status changed",
  );
}

/** Invalid transitions are the caller's bug: a warning, and the row stays as it was. */
export function logRefusal(logger: Logger, op: Op, error: unknown): void {
  if (error instanceof InvalidTransitionError && "requestId" in op) {
    logger.warn(
      { request_id: op.requestId, old_status: error.from, new_status: error.to },
      error.message,
    );
  }
}

function promptOf(input: JsonValue | null): string | null {
  if (
    input &&
    typeof input === "object" &&
    !Array.isArray(input) &&
    typeof input.prompt === "string"
  ) {
    return input.prompt;
  }
  return null;
}

function parametersOf(input: JsonValue | null): JsonValue | undefined {
  if (input && typeof input === "object" && !Array.isArray(input)) return input.parameters;
  return undefined;
}
