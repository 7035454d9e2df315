import { runInStage } from "../context/request-handle.js";
import type { ScopeTracker } from "../context/scope.js";
import { jsonProblem } from "../core/json.js";
import type { JsonValue } from "../core/types.js";

export interface TrackStageOptions {
  /** Whether a failure may be retried. Default: the error's own `retryable` property, else false. */
  retryable?: boolean | ((error: unknown) => boolean);
}

/** The stage calls `trackStage` needs: the local tracker and the remote client both have them. */
export interface StageHost extends ScopeTracker {
  startStage(id: string, stage: string): Promise<void>;
  completeStage(id: string, stage: string, output?: unknown): Promise<void>;
}

const MAX_STAGE_OUTPUT_BYTES = 64 * 1024;

/**
 * Runs `fn` as stage `stage` of request `id`: starts it, completes it with `fn`'s result as
 * output (kept when it is JSON and at most 64 KiB), or fails it with message, exception type,
 * stack and `retryable`, and rethrows. One implementation for the tracker and the client.
 */
export async function trackStage<T>(
  host: StageHost,
  id: string,
  stage: string,
  fn: () => T | Promise<T>,
  options: TrackStageOptions = {},
): Promise<T> {
  await host.startStage(id, stage);
  let value: T;
  try {
    value = await runInStage(host, id, stage, fn);
  } catch (error) {
    const retryable =
      typeof options.retryable === "function"
        ? options.retryable(error)
        : (options.retryable ?? (error as { retryable?: unknown })?.retryable === true);
    await host
      .failStage(id, stage, {
        message: error instanceof Error ? error.message : String(error),
        details: errorDetails(error),
        retryable,
      })
      .catch((failure: unknown) =>
        host.logger.warn({ err: failure, request_id: id, stage }, "could not record stage failure"),
      );
    throw error;
  }
  await host.completeStage(
    id,
    stage,
    storableOutput(value, () =>
      host.logger.debug(
        { request_id: id, stage },
        "stage output not stored (not JSON or over 64 KiB)",
      ),
    ),
  );
  return value;
}

function errorDetails(error: unknown): JsonValue {
  if (error instanceof Error) return { exceptionType: error.name, stack: error.stack ?? null };
  return { exceptionType: typeof error };
}

function storableOutput(value: unknown, dropped: () => void): JsonValue | null {
  if (value === undefined) return null;
  if (
    jsonProblem(value) === null &&
    Buffer.byteLength(JSON.stringify(value)) <= MAX_STAGE_OUTPUT_BYTES
  ) {
    return value as JsonValue;
  }
  dropped();
  return null;
}
