import type { LifecycleState } from "./lifecycle.js";
import { LEASE_EXPIRED_MESSAGE } from "./lifecycle.js";
import type { OpResult, RequeueOp, SweepChange, TransitionOp } from "./ops.js";
import type { EventRow } from "./stage-lifecycle.js";
import type { JsonValue, RequestStatus, Severity } from "./types.js";

/** What a status change leaves behind: its history row and its live-change payload. */
export interface StatusRecord {
  event: EventRow;
  change: { [key: string]: JsonValue };
}

const SEVERITY_OF: Partial<Record<RequestStatus, Severity>> = {
  failed: "error",
  timeout: "error",
  cancelled: "warning",
};

const isEnding = (to: RequestStatus) => to === "failed" || to === "timeout" || to === "cancelled";

/** The record of a transition from `before` to `next` (every driver writes exactly this). */
export function transitionRecord(
  op: TransitionOp,
  before: LifecycleState,
  next: LifecycleState,
): StatusRecord {
  const ending = isEnding(op.to);
  return {
    event: {
      type: "status_changed",
      stage: ending ? next.errorStage : null,
      severity: SEVERITY_OF[op.to] ?? "info",
      message:
        ending && next.errorMessage
          ? `${before.status} -> ${op.to}: ${next.errorMessage}`
          : `${before.status} -> ${op.to}`,
      data: JSON.stringify({ from: before.status, to: op.to, attempt: next.attempts }),
    },
    change: {
      from: before.status,
      to: op.to,
      attempts: next.attempts,
      workerId: next.workerId,
      durationMs: next.durationMs,
      errorMessage: ending ? next.errorMessage : null,
    },
  };
}

/** Why running stages end when a run goes back to the queue. */
export function requeueReason(op: RequeueOp): string {
  return op.reason === "released" ? "released by its worker" : LEASE_EXPIRED_MESSAGE;
}

/** The record of a requeue (lease expired or released), and what the watchdog reports of it. */
export function requeueRecord(
  op: RequeueOp,
  next: LifecycleState,
  activeStage: string | null,
): StatusRecord & { sweep: SweepChange } {
  const why = requeueReason(op);
  return {
    event: {
      type: "status_changed",
      stage: activeStage,
      severity: next.status === "failed" ? "error" : "warning",
      message: `running -> ${next.status}: ${why}`,
      data: JSON.stringify({
        from: "running",
        to: next.status,
        attempt: next.attempts,
        reason: op.reason,
      }),
    },
    change: { from: "running", to: next.status, reason: op.reason, attempts: next.attempts },
    sweep: {
      requestId: op.requestId,
      from: "running",
      to: next.status,
      reason: "lease_expired",
      attempts: next.attempts,
      errorMessage: next.errorMessage,
    },
  };
}

/**
 * What the watchdog reports of a transition it made (timeout, passed deadline, stale):
 * null when the op changed nothing (the request had already ended).
 */
export function sweepRecord(
  requestId: string,
  reason: SweepChange["reason"],
  result: OpResult,
): SweepChange | null {
  if (!result.ok || !result.transition || result.transition.noop) return null;
  const t = result.transition;
  return { requestId, from: t.from, to: t.to, reason, attempts: 0, errorMessage: t.errorMessage };
}
