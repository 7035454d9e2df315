import {
  BudgetExceededError,
  type BudgetExceededDetails,
  ClosedError,
  ERROR_CODES,
  type ErrorCode,
  ForbiddenError,
  InvalidTransitionError,
  MaxAttemptsError,
  MigrationError,
  NotFoundError,
  ReqtrackError,
  StoreUnavailableError,
  UnauthorizedError,
  ValidationError,
} from "../core/errors.js";

/** The JSON body of a server error, and of a failed op in an ingest answer. */
export interface WireError {
  code: string;
  message: string;
  field?: string;
}

/**
 * Per-op codes that mean "not applied because the server could not write right now": the op
 * is kept in the outbox and resent, like a batch that never arrived.
 */
const RETRYABLE_CODES: ReadonlySet<string> = new Set(["RT_ERR_STORE_UNAVAILABLE", "RT_ERR_CLOSED"]);

export function isRetryableCode(code: string): boolean {
  return RETRYABLE_CODES.has(code);
}

/**
 * Rebuilds the library's own error class from `{ code, message, field }`, so that
 * `instanceof ValidationError` and `error.field` work the same against a server as in process.
 * `requestId` is the request the call was about, when known (NotFoundError carries it).
 */
export function errorFromWire(body: unknown, status: number, requestId?: string): ReqtrackError {
  const wire = asWireError(body, status);
  const { message } = wire;
  switch (wire.code) {
    case "RT_ERR_VALIDATION": {
      const field = wire.field ?? "input";
      const prefix = `${field}: `;
      return new ValidationError(
        field,
        message.startsWith(prefix) ? message.slice(prefix.length) : message,
      );
    }
    case "RT_ERR_INVALID_TRANSITION": {
      const match = /(\S+) -> (\S+)/.exec(message);
      return new InvalidTransitionError(match?.[1] ?? "unknown", match?.[2] ?? "unknown", message);
    }
    case "RT_ERR_NOT_FOUND":
      return requestId === undefined
        ? new ReqtrackError("RT_ERR_NOT_FOUND", message)
        : withMessage(new NotFoundError(requestId), message);
    case "RT_ERR_MAX_ATTEMPTS":
      return withMessage(new MaxAttemptsError(requestId ?? "unknown", 0, 0), message);
    case "RT_ERR_STORE_UNAVAILABLE":
      return new StoreUnavailableError(message);
    case "RT_ERR_CLOSED":
      return withMessage(new ClosedError(), message);
    case "RT_ERR_UNAUTHORIZED":
      return new UnauthorizedError(message);
    case "RT_ERR_FORBIDDEN":
      return new ForbiddenError(message);
    case "RT_ERR_MIGRATION":
      return new MigrationError(message);
    case "RT_ERR_BUDGET_EXCEEDED": {
      const budget = (body as { budget?: BudgetExceededDetails } | null)?.budget;
      return budget
        ? withMessage(new BudgetExceededError(budget), message)
        : new ReqtrackError("RT_ERR_BUDGET_EXCEEDED", message);
    }
    default:
      return new ReqtrackError(wire.code as ErrorCode, message);
  }
}

/** A body that is not `{ code, message }` (a proxy's HTML page, ...) gets a code from its status. */
function asWireError(body: unknown, status: number): WireError {
  const b = body as Partial<WireError> | null;
  if (
    typeof b?.code === "string" &&
    Object.hasOwn(ERROR_CODES, b.code) &&
    typeof b.message === "string"
  ) {
    return {
      code: b.code,
      message: b.message,
      ...(typeof b.field === "string" ? { field: b.field } : {}),
    };
  }
  const code: ErrorCode =
    status === 401
      ? "RT_ERR_UNAUTHORIZED"
      : status === 403
        ? "RT_ERR_FORBIDDEN"
        : status === 404
          ? "RT_ERR_NOT_FOUND"
          : status === 413
            ? "RT_ERR_PAYLOAD_TOO_LARGE"
            : status >= 500
              ? "RT_ERR_STORE_UNAVAILABLE"
              : "RT_ERR_INTERNAL";
  const text = typeof b?.message === "string" ? b.message : JSON.stringify(body ?? null);
  return { code, message: `HTTP ${status}: ${text.slice(0, 200)}` };
}

/** Keeps the server's wording, which may say more than the class's default message. */
function withMessage<E extends Error>(error: E, message: string): E {
  error.message = message;
  return error;
}
