import type { Tracer } from "@opentelemetry/api";
import { observeScopes } from "../context/scope.js";
import type { Tracker } from "../tracker/tracker.js";
import { importOptional } from "./import-optional.js";
import { type OtelApi, SpanObserver } from "./span-observer.js";

/** Options of `enableOpenTelemetry`. */
export interface OpenTelemetryOptions {
  /** Where spans go. Default: the global provider (`trace.getTracerProvider()`). */
  tracerProvider?: { getTracer(name: string, version?: string): object };
  /** Request spans kept open at most; past it the oldest is ended (marked evicted). Default 10,000. */
  maxOpenSpans?: number;
}

/**
 * Exports the tracker's requests as OpenTelemetry spans: a request is a span (a child of the
 * incoming `traceparent`, so the trace id is kept), its stages child spans, its events span
 * events, its costs and counters attributes. Loads `@opentelemetry/api` only now, and throws
 * a `MissingDependencyError` without it. Returns the function that turns it off.
 *
 * It listens to the tracker's committed changes (`subscribe`), which makes the store capture
 * them: a small cost per write, paid only while this is on.
 *
 * @example
 * const stop = await enableOpenTelemetry(tracker); // spans go to the global TracerProvider
 */
export async function enableOpenTelemetry(
  tracker: Tracker,
  options: OpenTelemetryOptions = {},
): Promise<() => void> {
  const api = await importOptional<OtelApi>("@opentelemetry/api", "enableOpenTelemetry()");
  const provider = options.tracerProvider ?? api.trace.getTracerProvider();
  const observer = new SpanObserver(
    api,
    provider.getTracer("reqtrack") as Tracer,
    tracker,
    options.maxOpenSpans ?? 10_000,
  );
  const unobserve = observeScopes(tracker, observer);
  const unsubscribe = tracker.subscribe((event) => observer.onChange(event));
  return () => {
    unobserve();
    unsubscribe();
    observer.endAll();
  };
}
