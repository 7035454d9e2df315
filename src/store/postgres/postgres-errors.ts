// Socket-level failures: the server is down, restarting, or unreachable.
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

// SQLSTATEs that mean "the database cannot take writes right now", not "the input was
// wrong": class 08 connection exceptions, 53 insufficient resources (too many connections,
// disk full, out of memory), 57P0x shutdowns and recovery, 25006 a read-only standby.
const UNAVAILABLE_STATES = /^(08...|53...|57P0[1-4]|25006)$/;

// pg reports a dead connection or an exhausted pool without a code.
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/;

/** True when `error` means the PostgreSQL server is down, unreachable or refusing work. */
export function isPostgresUnavailable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, message, errors } = error as {
    code?: unknown;
    message?: unknown;
    errors?: unknown;
  };
  if (typeof code === "string" && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.test(code))) {
    return true;
  }
  if (typeof message === "string" && UNAVAILABLE_MESSAGES.test(message)) return true;
  // Node reports a refused dual-stack connect as an AggregateError of per-address errors.
  return Array.isArray(errors) && errors.some(isPostgresUnavailable);
}

/**
 * True for a transaction that lost to a concurrent one (deadlock, serialization failure)
 * and succeeds when run again from the start.
 */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "40001";
}
