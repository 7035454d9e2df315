import type {
  AnnotateInput,
  ContextInput,
  LogEventInput,
  RecordCostInput,
} from "../core/schemas.js";
import {
  currentScope,
  type RequestScope,
  runInScope,
  type ScopeTracker,
  scopeObservers,
} from "./scope.js";
import { parseTraceParent } from "./trace-parent.js";

/** The current request, as `currentRequest()` gives it: tracker calls that need no id. */
export interface RequestHandle {
  readonly id: string;
  readonly correlationId: string | null;
  /** The stage being run, inside `trackStage`. */
  readonly stage: string | undefined;
  /** Appends an event; `stage` defaults to the current stage. */
  logEvent(event: LogEventInput): Promise<void>;
  /** Adds a cost; `stage` defaults to the current stage. */
  recordCost(cost: RecordCostInput): Promise<void>;
  increment(counter: string, by?: number): Promise<void>;
  /** `tracker.annotate` for this request: intent, entities, tags, metadata found out now. */
  annotate(annotation: AnnotateInput): Promise<void>;
  /**
   * `tracker.setContext` for this request: the tenant, session or user the handler found
   * (e.g. in the body), so its costs count for them.
   */
  setContext(context: ContextInput): Promise<void>;
  /** `tracker.trackStage` for this request. */
  trackStage<T>(
    stage: string,
    fn: () => T | Promise<T>,
    options?: { retryable?: boolean | ((error: unknown) => boolean) },
  ): Promise<T>;
}

/** Options of `tracker.withRequest`. */
export interface WithRequestOptions {
  /** Kept on the scope and sent on as `X-Correlation-ID`. Default: the trace id, if any. */
  correlationId?: string | null;
  /** An incoming W3C `traceparent`: outgoing calls and spans continue its trace. */
  traceparent?: string | null;
}

/**
 * The request being handled (inside `tracker.withRequest`, the HTTP middleware or a stage),
 * or undefined outside one, or inside a bare scope that has no tracker.
 *
 * @example
 * await currentRequest()?.recordCost({ service: "openai", amountUsd: 0.0045 });
 */
export function currentRequest(): RequestHandle | undefined {
  const scope = currentScope();
  if (!scope?.tracker) return undefined;
  return handleOf(scope, scope.tracker);
}

/**
 * Runs `fn` as request `requestId` of `tracker` (what `tracker.withRequest` does), telling the
 * tracker's scope observers when the scope begins and when `fn` has settled. `recorded`: the
 * caller writes the request itself (see `RequestScope.recorded`).
 */
export function runRequest<T>(
  tracker: ScopeTracker,
  requestId: string,
  fn: () => T,
  options: WithRequestOptions = {},
  recorded = false,
): T {
  const parent = parseTraceParent(options.traceparent);
  const scope: RequestScope = {
    requestId,
    correlationId: options.correlationId ?? parent?.traceId ?? null,
    tracker,
    ...(parent ? { parent } : {}),
    ...(recorded ? { recorded } : {}),
  };
  const observers = scopeObservers(tracker);
  if (observers.length === 0) return runInScope(scope, fn);
  for (const observer of observers) observer.enter?.(scope);
  const exit = () => {
    for (const observer of observers) observer.exit?.(scope);
  };
  let result: T;
  try {
    result = runInScope(scope, fn);
  } catch (error) {
    exit();
    throw error;
  }
  if (isPromiseLike(result)) result.then(exit, exit);
  else exit();
  return result;
}

/**
 * Runs `fn` in a child scope that names `stage` (what `tracker.trackStage` does), so that
 * breakers and `currentRequest()` inside it know the stage. Outside the request's own scope it
 * opens one, so `currentRequestId()` is right inside every stage.
 */
export function runInStage<T>(
  tracker: ScopeTracker,
  requestId: string,
  stage: string,
  fn: () => T,
): T {
  const outer = currentScope();
  const scope: RequestScope =
    outer?.requestId === requestId
      ? {
          requestId,
          correlationId: outer.correlationId,
          tracker: outer.tracker ?? tracker,
          stage,
          ...(outer.parent ? { parent: outer.parent } : {}),
          ...(outer.traceId ? { traceId: outer.traceId } : {}),
        }
      : { requestId, correlationId: tracker.correlationIdOf?.(requestId) ?? null, tracker, stage };
  return runInScope(scope, fn);
}

const handles = new WeakMap<RequestScope, RequestHandle>();

function handleOf(scope: RequestScope, tracker: ScopeTracker): RequestHandle {
  let handle = handles.get(scope);
  if (handle) return handle;
  const id = scope.requestId;
  const inStage = <E extends { stage?: string }>(input: E): E =>
    scope.stage !== undefined && input?.stage === undefined
      ? { ...input, stage: scope.stage }
      : input;
  handle = {
    id,
    correlationId: scope.correlationId,
    stage: scope.stage,
    logEvent: (event) => tracker.logEvent(id, inStage(event)),
    recordCost: (cost) => tracker.recordCost(id, inStage(cost)),
    increment: (counter, by) => tracker.increment(id, counter, by),
    annotate: (annotation) => tracker.annotate(id, annotation),
    setContext: (context) => tracker.setContext(id, context),
    trackStage: (stage, fn, options) => tracker.trackStage(id, stage, fn, options),
  };
  handles.set(scope, handle);
  return handle;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
