import { InvalidTransitionError, MaxAttemptsError } from "./errors.js";
import type { ErrorInfo, TransitionOp, TransitionOutcome } from "./ops.js";
import { type RequestStatus, TERMINAL_STATUSES } from "./types.js";

/**
 * The request state machine (DESIGN.md "Lifecycle"): a transition it does not list is refused.
 *
 *   pending -> running | cancelled | timeout
 *   running -> completed | failed | timeout | cancelled
 *   failed | timeout -> pending          (retry, while attempts < maxAttempts)
 *   X -> X                               (no-op; a terminal status refreshes completedAt)
 */
const ALLOWED: Readonly<Record<RequestStatus, ReadonlySet<RequestStatus>>> = {
  pending: new Set(["running", "cancelled", "timeout"]),
  running: new Set(["completed", "failed", "timeout", "cancelled"]),
  completed: new Set(),
  failed: new Set(["pending"]),
  timeout: new Set(["pending"]),
  cancelled: new Set(),
};

export function canTransition(from: RequestStatus, to: RequestStatus): boolean {
  return from === to || ALLOWED[from].has(to);
}

/** The columns a transition reads and writes. JSON columns stay serialized text here. */
export interface LifecycleState {
  status: RequestStatus;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  queueMs: number | null;
  durationMs: number | null;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  workerId: string | null;
  leaseExpiresAt: number | null;
  leaseMs: number | null;
  result: string | null;
  errorMessage: string | null;
  errorStage: string | null;
  errorDetails: string | null;
}

/** The lifecycle of a request as its create leaves it: pending, never run. */
export function createdState(r: {
  createdAt: number;
  maxAttempts: number;
  timeoutMs: number;
}): LifecycleState {
  return {
    status: "pending",
    createdAt: r.createdAt,
    startedAt: null,
    completedAt: null,
    queueMs: null,
    durationMs: null,
    attempts: 0,
    maxAttempts: r.maxAttempts,
    timeoutMs: r.timeoutMs,
    workerId: null,
    leaseExpiresAt: null,
    leaseMs: null,
    result: null,
    errorMessage: null,
    errorStage: null,
    errorDetails: null,
  };
}

export interface TransitionPlan {
  next: LifecycleState;
  noop: boolean;
}

/**
 * Works out the state after `op`, or throws `InvalidTransitionError` /
 * `MaxAttemptsError`. Pure: drivers read the state, call this, and write `next`.
 * `activeStage` is the stage that was running when the request failed, if any.
 */
export function planTransition(
  state: LifecycleState,
  op: TransitionOp,
  activeStage: string | null = null,
): TransitionPlan {
  const { status: from } = state;
  const { to, at } = op;
  if (from === to) {
    if (!TERMINAL_STATUSES.has(to)) return { next: state, noop: true };
    return {
      next: { ...state, completedAt: at, durationMs: runDuration(state.startedAt, at) },
      noop: true,
    };
  }
  if (!ALLOWED[from].has(to)) throw new InvalidTransitionError(from, to);

  const next: LifecycleState = { ...state, status: to };
  switch (to) {
    case "running":
      next.startedAt = at;
      next.queueMs = at - state.createdAt;
      next.attempts = state.attempts + 1;
      next.workerId = op.workerId ?? null;
      next.leaseMs = op.leaseMs ?? null;
      next.leaseExpiresAt = next.leaseMs ? at + next.leaseMs : null;
      next.completedAt = null;
      next.durationMs = null;
      break;
    case "pending":
      if (state.attempts >= state.maxAttempts) {
        throw new MaxAttemptsError(op.requestId, state.attempts, state.maxAttempts);
      }
      // The error fields stay, so the next run can see where the last one failed.
      next.completedAt = null;
      next.durationMs = null;
      next.workerId = null;
      next.leaseExpiresAt = null;
      next.result = null;
      break;
    default: {
      next.completedAt = at;
      next.durationMs = runDuration(state.startedAt, at);
      next.leaseExpiresAt = null;
      if (to === "completed") {
        next.result = op.result === undefined ? null : JSON.stringify(op.result);
        next.errorMessage = null;
        next.errorStage = null;
        next.errorDetails = null;
      } else {
        const error = errorFor(to, op.error, state.timeoutMs);
        next.errorMessage = sanitizeErrorMessage(error.message);
        next.errorStage = error.stage ?? activeStage;
        next.errorDetails = error.details == null ? null : JSON.stringify(error.details);
      }
    }
  }
  return { next, noop: false };
}

export const LEASE_EXPIRED_MESSAGE = "lease expired";

/**
 * A running request goes back to pending. "lease_expired": its worker stopped heartbeating
 * (crashed, hung, partitioned); the run counts as an attempt, and once attempts reach
 * maxAttempts the request fails with "lease expired" instead. "released": its worker gave it
 * back on shutdown; the run does not count.
 */
export function planRequeue(
  state: LifecycleState,
  at: number,
  reason: "lease_expired" | "released",
  activeStage: string | null,
): TransitionPlan {
  if (state.status !== "running") throw new InvalidTransitionError(state.status, "pending");
  const base = { ...state, workerId: null, leaseExpiresAt: null };
  if (reason === "released") {
    return {
      next: { ...base, status: "pending", attempts: Math.max(0, state.attempts - 1) },
      noop: false,
    };
  }
  const error = {
    errorMessage: LEASE_EXPIRED_MESSAGE,
    errorStage: activeStage,
    errorDetails: null,
  };
  if (state.attempts >= state.maxAttempts) {
    return {
      next: {
        ...base,
        ...error,
        status: "failed",
        completedAt: at,
        durationMs: runDuration(state.startedAt, at),
      },
      noop: false,
    };
  }
  return { next: { ...base, ...error, status: "pending" }, noop: false };
}

function runDuration(startedAt: number | null, at: number): number | null {
  return startedAt === null ? null : at - startedAt;
}

function errorFor(to: RequestStatus, error: ErrorInfo | null | undefined, timeoutMs: number) {
  if (error) return error;
  if (to === "timeout") return { message: timeoutMessage(timeoutMs) };
  if (to === "cancelled") return { message: "cancelled" };
  return { message: "failed" };
}

/** "Generation timed out after 5 minutes" for the default limit; the number follows the limit. */
export function timeoutMessage(timeoutMs: number): string {
  return `Generation timed out after ${humanDuration(timeoutMs)}`;
}

function humanDuration(ms: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (ms % 3_600_000 === 0) return plural(ms / 3_600_000, "hour");
  if (ms % 60_000 === 0) return plural(ms / 60_000, "minute");
  if (ms % 1000 === 0) return plural(ms / 1000, "second");
  return plural(ms, "millisecond");
}

const MAX_ERROR_MESSAGE = 2000;
const SECRET_PATTERNS: readonly [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, "$1 [redacted]"],
  [
    /\b((?:api[_-]?key|token|secret|password|passwd|authorization)["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi,
    "$1[redacted]",
  ],
  [/\b(sk|rt|pk|ghp|xox[bp])[-_][A-Za-z0-9_-]{16,}/g, "[redacted]"],
];

/** Error messages end up in logs and dashboards: strip credentials and cap the length. */
export function sanitizeErrorMessage(message: string): string {
  let clean = message;
  for (const [pattern, replacement] of SECRET_PATTERNS) clean = clean.replace(pattern, replacement);
  return clean.length > MAX_ERROR_MESSAGE ? `${clean.slice(0, MAX_ERROR_MESSAGE - 1)}…` : clean;
}

/** What a transition from `before` to `after` did, as op results report it. */
export function transitionOutcome(
  before: LifecycleState,
  after: LifecycleState,
  noop: boolean,
): TransitionOutcome {
  return {
    from: before.status,
    to: after.status,
    noop,
    attempts: after.attempts,
    queueMs: after.queueMs,
    durationMs: after.durationMs,
    errorMessage: after.errorMessage,
  };
}
