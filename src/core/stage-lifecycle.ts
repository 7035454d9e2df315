import { InvalidTransitionError } from "./errors.js";
import { toJsonText } from "./json.js";
import type { StageOp } from "./ops.js";
import type { JsonValue, RequestStatus, Severity } from "./types.js";

/** What a driver reads before a stage change: the request's status and the stage's last attempt. */
export interface StageSnapshot {
  requestStatus: RequestStatus;
  /** Null when the stage never ran. */
  stageStatus: string | null;
  attempt: number | null;
  startedAt: number | null;
}

/** An events-table row in driver-neutral form (`data` already serialized). */
export interface EventRow {
  type: string;
  stage: string | null;
  severity: Severity;
  message: string;
  data: string | null;
}

export type StagePlan =
  | { kind: "noop" }
  | { kind: "start"; attempt: number; event: EventRow; change: { [key: string]: JsonValue } }
  | {
      kind: "finish";
      attempt: number;
      status: "completed" | "failed";
      durationMs: number;
      output: string | null;
      errorMessage: string | null;
      errorDetails: string | null;
      retryable: boolean | null;
      event: EventRow;
      change: { [key: string]: JsonValue };
    };

/**
 * The stage rules every driver applies: a stage starts only while its request runs (a
 * second start of a running stage is a no-op; a start after it ended is a new attempt), and
 * only a running stage completes or fails (repeating the same end is a no-op). Pure, like
 * `planTransition`: drivers read the snapshot, call this, and write what it says.
 */
export function planStage(snapshot: StageSnapshot, op: StageOp): StagePlan {
  const { stageStatus } = snapshot;
  if (op.action === "start") {
    if (stageStatus === "running") return { kind: "noop" };
    if (snapshot.requestStatus !== "running") {
      throw InvalidTransitionError.forStage(
        op.stage,
        stageStatus ?? "none",
        "running",
        `request is ${snapshot.requestStatus}; stages run only while it is running`,
      );
    }
    return {
      kind: "start",
      attempt: (snapshot.attempt ?? 0) + 1,
      event: {
        type: "stage_started",
        stage: op.stage,
        severity: "info",
        message: `Stage ${op.stage} started`,
        data: null,
      },
      change: { stage: op.stage, status: "running" },
    };
  }
  const target = op.action === "complete" ? "completed" : "failed";
  if (stageStatus === target) return { kind: "noop" };
  if (stageStatus !== "running") {
    throw InvalidTransitionError.forStage(
      op.stage,
      stageStatus ?? "none",
      target,
      "only a running stage can complete or fail",
    );
  }
  const durationMs = op.at - (snapshot.startedAt ?? op.at);
  const failure = op.error ?? null;
  return {
    kind: "finish",
    attempt: snapshot.attempt ?? 1,
    status: target,
    durationMs,
    output: toJsonText(op.output),
    errorMessage: failure?.message ?? null,
    errorDetails: toJsonText(failure?.details),
    retryable: failure ? failure.retryable : null,
    event: {
      type: target === "completed" ? "stage_completed" : "stage_failed",
      stage: op.stage,
      severity: target === "completed" ? "info" : "error",
      message: failure
        ? `Stage ${op.stage} failed: ${failure.message}`
        : `Stage ${op.stage} completed`,
      data: JSON.stringify(failure ? { durationMs, retryable: failure.retryable } : { durationMs }),
    },
    change: { stage: op.stage, status: target, durationMs, errorMessage: failure?.message ?? null },
  };
}

/** What `activeStageOf` reads of a stage run. */
export interface StageRun {
  name: string;
  attempt: number;
  status: string;
  startedAt: number;
}

/**
 * The stage a failing run stopped in (its error's `stage`): of the stages started since the
 * run began (`since`), the one still running, else the last that failed; among equals the
 * latest started, then the highest attempt. Null when none.
 */
export function activeStageOf(stages: Iterable<StageRun>, since: number): string | null {
  let best: StageRun | undefined;
  const rank = (s: StageRun) => (s.status === "running" ? 1 : 0);
  for (const s of stages) {
    if ((s.status !== "running" && s.status !== "failed") || s.startedAt < since) continue;
    const better =
      !best ||
      rank(s) > rank(best) ||
      (rank(s) === rank(best) &&
        (s.startedAt > best.startedAt ||
          (s.startedAt === best.startedAt && s.attempt > best.attempt)));
    if (better) best = s;
  }
  return best?.name ?? null;
}
