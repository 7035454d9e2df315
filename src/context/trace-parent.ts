import { randomBytes } from "node:crypto";

/** A parsed W3C `traceparent` header: `00-<traceId>-<parentId>-<flags>`. */
export interface TraceParent {
  traceId: string;
  /** The caller's span, which our request span becomes a child of. */
  spanId: string;
  /** Two hex digits; "01" means sampled. */
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/**
 * Parses a `traceparent` header; undefined when absent or invalid (W3C Trace Context:
 * version ff, an all-zero trace id or parent id are invalid; a version 00 header has no
 * trailing fields).
 */
export function parseTraceParent(header: string | undefined | null): TraceParent | undefined {
  if (!header) return undefined;
  const match = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!match) return undefined;
  const [all, version, traceId, spanId, flags] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (version === "ff" || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  if (version === "00" && all.length !== 55) return undefined;
  return { traceId, spanId, flags };
}

/** Formats a version-00 `traceparent`. */
export function formatTraceParent(traceId: string, spanId: string, flags = "01"): string {
  return `00-${traceId}-${spanId}-${flags}`;
}

const HEX32 = /^[0-9a-f]{32}$/;

/**
 * The trace id a request originates when none came in: its correlation id when that already
 * is a trace id, else the UUID inside a `req_<uuid>` id (so logs, rows and traces share one
 * value), else a random one.
 */
export function traceIdFor(requestId: string, correlationId: string | null): string {
  if (correlationId && HEX32.test(correlationId) && correlationId !== ZERO_TRACE) {
    return correlationId;
  }
  // On every tracked HTTP call: slicing a `req_<uuid>` is much cheaper than a capturing regex.
  const n = requestId.length;
  const dash = (at: number) => requestId.charCodeAt(n - at) === 45; // "-"
  if (n >= 36 && dash(13) && dash(18) && dash(23) && dash(28)) {
    const hex = (
      requestId.slice(n - 36, n - 28) +
      requestId.slice(n - 27, n - 23) +
      requestId.slice(n - 22, n - 18) +
      requestId.slice(n - 17, n - 13) +
      requestId.slice(n - 12)
    ).toLowerCase();
    if (HEX32.test(hex) && hex !== ZERO_TRACE) return hex;
  }
  return randomHex(16);
}

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}
