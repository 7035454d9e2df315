/**
 * One registry of stable error codes. Every code is documented in docs/errors.md
 * (a test fails when one is not), carries the HTTP status the server answers with,
 * and keeps the original `cause` when it wraps another error.
 */
export const ERROR_CODES = {
  RT_ERR_VALIDATION: {
    status: 400,
    summary: "Input failed validation; `field` names the culprit.",
  },
  RT_ERR_INVALID_TRANSITION: {
    status: 409,
    summary: "A status or stage change that the lifecycle does not allow.",
  },
  RT_ERR_NOT_FOUND: { status: 404, summary: "No request with that id (or it is not yours)." },
  RT_ERR_ID_CONFLICT: {
    status: 409,
    summary: "A caller-chosen request id is already taken by a request outside the caller's scope.",
  },
  RT_ERR_BUDGET_EXCEEDED: {
    status: 429,
    summary: "An enforced cost budget covering the new request is spent until its period ends.",
  },
  RT_ERR_MAX_ATTEMPTS: {
    status: 409,
    summary: "A retry was asked for a request that already used all its attempts.",
  },
  RT_ERR_STORE_UNAVAILABLE: {
    status: 503,
    summary: "The store could not be written or read and degraded mode is off.",
  },
  RT_ERR_CLOSED: { status: 503, summary: "The tracker was closed; create a new one." },
  RT_ERR_UNAUTHORIZED: {
    status: 401,
    summary: "No API key, or a key that is unknown or revoked.",
  },
  RT_ERR_FORBIDDEN: { status: 403, summary: "The API key's role does not allow this." },
  RT_ERR_PAYLOAD_TOO_LARGE: { status: 413, summary: "The request body is over the limit." },
  RT_ERR_OVERLOADED: {
    status: 503,
    summary: "The server is shedding load; retry after the Retry-After seconds.",
  },
  RT_ERR_INTERNAL: {
    status: 500,
    summary: "A bug in reqtrack; the details are in the server log.",
  },
  RT_ERR_MIGRATION: {
    status: 500,
    summary: "The database schema is newer than this reqtrack or a migration failed.",
  },
  RT_ERR_MISSING_DEPENDENCY: {
    status: 500,
    summary: "An optional feature needs a package that is not installed; the message names it.",
  },
  RT_ERR_REQUEST_ENDED: {
    status: 409,
    summary: "Who a request belongs to (tenant, session, user) cannot change once it has ended.",
  },
  RT_ERR_NO_ANALYTICS: {
    status: 501,
    summary:
      "The store keeps no analytics (stats, cost reports); use the SQLite or PostgreSQL store.",
  },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Base class of every error reqtrack throws on purpose. */
export class ReqtrackError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = ERROR_CODES[code].status;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message };
  }
}

/** Bad input. Nothing was changed. */
export class ValidationError extends ReqtrackError {
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super("RT_ERR_VALIDATION", `${field}: ${message}`, options);
    this.field = field;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), field: this.field };
  }
}

/** A lifecycle change the state machine forbids. The stored row was left untouched. */
export class InvalidTransitionError extends ReqtrackError {
  readonly from: string;
  readonly to: string;

  constructor(from: string, to: string, message?: string) {
    super("RT_ERR_INVALID_TRANSITION", message ?? `Invalid status transition: ${from} -> ${to}`);
    this.from = from;
    this.to = to;
  }

  /** A stage change that does not follow running -> completed | failed. */
  static forStage(stage: string, from: string, to: string, why: string): InvalidTransitionError {
    return new InvalidTransitionError(
      from,
      to,
      `Invalid stage transition: ${stage} ${from} -> ${to} (${why})`,
    );
  }
}

export class NotFoundError extends ReqtrackError {
  readonly requestId: string;
  /** The input field that named the missing request (e.g. `id` of a replay), when one did. */
  readonly field: string | undefined;

  constructor(requestId: string, options: { field?: string; message?: string } = {}) {
    super("RT_ERR_NOT_FOUND", options.message ?? `Request ${requestId} not found`);
    this.requestId = requestId;
    this.field = options.field;
  }

  override toJSON(): Record<string, unknown> {
    return this.field === undefined ? super.toJSON() : { ...super.toJSON(), field: this.field };
  }
}

/** A budget id that names no budget (of the caller's tenant). */
export function budgetNotFound(id: string): NotFoundError {
  return new NotFoundError(id, { field: "id", message: `Budget ${id} not found` });
}

/**
 * A create with a caller-chosen id that another tenant's request already has. It says no
 * more than that the id is taken: not whose it is, nor anything stored under it.
 */
export class IdConflictError extends ReqtrackError {
  readonly requestId: string;

  constructor(requestId: string) {
    super(
      "RT_ERR_ID_CONFLICT",
      `Request id ${requestId} is not available; send another id or leave it out to get a generated one`,
    );
    this.requestId = requestId;
  }
}

/** The figures of a spent budget that refused a new request. */
export interface BudgetExceededDetails {
  budgetId: string;
  name: string;
  limitUsd: number;
  spentUsd: number;
  /** ISO time the period ends (rolling budgets: when spend may have fallen). */
  periodEnd: string;
  /** What HTTP sends as Retry-After. */
  retryAfterSeconds: number;
}

/** A new request in the scope of an `enforce` budget that is spent. Nothing was written. */
export class BudgetExceededError extends ReqtrackError {
  readonly budget: BudgetExceededDetails;

  constructor(budget: BudgetExceededDetails) {
    super(
      "RT_ERR_BUDGET_EXCEEDED",
      `Budget "${budget.name}" is spent (${budget.spentUsd.toFixed(2)} of ${budget.limitUsd.toFixed(2)} USD) until ${budget.periodEnd}`,
    );
    this.budget = budget;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), budget: this.budget };
  }
}

export class MaxAttemptsError extends ReqtrackError {
  constructor(requestId: string, attempts: number, maxAttempts: number) {
    super(
      "RT_ERR_MAX_ATTEMPTS",
      `Request ${requestId} used ${attempts} of ${maxAttempts} attempts; raise maxAttempts to retry it again`,
    );
  }
}

export class StoreUnavailableError extends ReqtrackError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RT_ERR_STORE_UNAVAILABLE", message, options);
  }
}

export class ClosedError extends ReqtrackError {
  constructor() {
    super("RT_ERR_CLOSED", "The tracker is closed; create a new one with createTracker()");
  }
}

/** An optional feature (OpenTelemetry, ...) was asked for without its package installed. */
export class MissingDependencyError extends ReqtrackError {
  readonly packageName: string;

  constructor(packageName: string, feature: string, options?: { cause?: unknown }) {
    super(
      "RT_ERR_MISSING_DEPENDENCY",
      `${feature} needs the optional package "${packageName}": npm install ${packageName}`,
      options,
    );
    this.packageName = packageName;
  }
}

export class MigrationError extends ReqtrackError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RT_ERR_MIGRATION", message, options);
  }
}

export class UnauthorizedError extends ReqtrackError {
  constructor(message = "Send an API key: Authorization: Bearer rt_...") {
    super("RT_ERR_UNAUTHORIZED", message);
  }
}

export class ForbiddenError extends ReqtrackError {
  constructor(message: string) {
    super("RT_ERR_FORBIDDEN", message);
  }
}

/**
 * `setContext` on a request that has ended: its cost and counts are settled under the
 * tenant and session it ended with (cost reports of past periods do not move).
 */
export class RequestEndedError extends ReqtrackError {
  readonly requestId: string;

  constructor(requestId: string, status: string) {
    super(
      "RT_ERR_REQUEST_ENDED",
      `Request ${requestId} is ${status}: its tenant, session and user can no longer change`,
    );
    this.requestId = requestId;
  }
}

/** A stats or cost-report call on a store without analytics (a custom Store driver). */
export class NoAnalyticsError extends ReqtrackError {
  constructor() {
    super(
      "RT_ERR_NO_ANALYTICS",
      "This store keeps no analytics; use the SQLite or PostgreSQL store",
    );
  }
}
