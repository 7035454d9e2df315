import { currentScope, type RequestScope, scopeObservers } from "./scope.js";
import { formatTraceParent, randomHex, traceIdFor } from "./trace-parent.js";

/** The headers an outgoing call carries so the next service joins the same request. */
export interface PropagationHeaders {
  "X-Request-ID": string;
  "X-Correlation-ID": string;
  traceparent: string;
}

/**
 * Headers for an outgoing call made inside a request scope: `X-Request-ID` (this request),
 * `X-Correlation-ID` (the correlation id, else the trace id) and a W3C `traceparent` whose
 * parent is the current span (the OpenTelemetry span when enabled). Outside any scope: `{}`.
 *
 * @example
 * await fetch(url, { headers: { ...propagationHeaders(), "content-type": "application/json" } });
 */
export function propagationHeaders(): PropagationHeaders | Record<string, never> {
  const scope = currentScope();
  if (!scope) return {};
  const { traceId, spanId, flags } = traceContextOf(scope);
  return {
    "X-Request-ID": scope.requestId,
    "X-Correlation-ID": scope.correlationId ?? traceId,
    traceparent: formatTraceParent(traceId, spanId, flags),
  };
}

/**
 * `fetch` that adds `propagationHeaders()` to the call; headers the caller set win.
 *
 * @example
 * const answer = await trackedFetch("https://api.example.com/generate", { method: "POST", body });
 */
export async function trackedFetch(
  input: string | URL | Request,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(
    init.headers ?? (input instanceof Request ? input.headers : undefined),
  );
  for (const [name, value] of Object.entries(propagationHeaders())) {
    if (!headers.has(name)) headers.set(name, value);
  }
  return fetch(input, { ...init, headers });
}

function traceContextOf(scope: RequestScope): { traceId: string; spanId: string; flags: string } {
  const flags = scope.parent?.flags ?? "01";
  for (const observer of scopeObservers(scope.tracker)) {
    const span = observer.spanContext?.(scope);
    if (span) return { ...span, flags };
  }
  // Made once per scope, so that every call from this scope names the same parent span.
  scope.traceId ??= scope.parent?.traceId ?? traceIdFor(scope.requestId, scope.correlationId);
  scope.spanId ??= randomHex(8);
  return { traceId: scope.traceId, spanId: scope.spanId, flags };
}
