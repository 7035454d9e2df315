import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import type {
  AnnotateInput,
  ContextInput,
  LogEventInput,
  RecordCostInput,
  StageFailureInput,
} from "../core/schemas.js";
import type { Logger } from "./logger.js";
import type { TraceParent } from "./trace-parent.js";

/**
 * The tracker calls a scope may make without naming the request. Structural, so that this
 * layer (below tracker/) needs no import of the Tracker class, which satisfies it.
 */
export interface ScopeTracker {
  readonly logger: Logger;
  logEvent(ref: string, event: LogEventInput): Promise<void>;
  recordCost(ref: string, cost: RecordCostInput): Promise<void>;
  increment(ref: string, counter: string, by?: number): Promise<void>;
  annotate(ref: string, annotation: AnnotateInput): Promise<void>;
  setContext(ref: string, context: ContextInput): Promise<void>;
  /** The correlation id stored with a request the tracker created, when it knows it. */
  correlationIdOf?(id: string): string | null;
  failStage(ref: string, stage: string, failure: StageFailureInput | string): Promise<void>;
  trackStage<T>(
    ref: string,
    stage: string,
    fn: () => T | Promise<T>,
    options?: { retryable?: boolean | ((error: unknown) => boolean) },
  ): Promise<T>;
}

/** What travels with a request through every await inside its scope. */
export interface RequestScope {
  requestId: string;
  correlationId: string | null;
  /** The tracker that owns the request; `currentRequest()` needs it. Absent in bare scopes. */
  tracker?: ScopeTracker;
  /** The stage being run (inside `trackStage`), so breakers and handles can name it. */
  stage?: string;
  /** The W3C trace context the request came with, if any (`traceparent`). */
  parent?: TraceParent;
  /**
   * Whoever opened the scope records the request itself (the HTTP middleware), so observers
   * need not watch whether the tracker ever writes it.
   */
  recorded?: boolean;
  /** Lazily made ids for outgoing `traceparent` headers when no span observer gives them. */
  traceId?: string;
  spanId?: string;
}

const storage = new AsyncLocalStorage<RequestScope>();

/**
 * Runs `fn` with `scope` as the current request: `currentRequestId()` inside it, and in
 * everything it awaits, returns this id. Concurrent scopes never see each other's.
 */
export function runInScope<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The scope of the request being handled, if any. */
export function currentScope(): RequestScope | undefined {
  return storage.getStore();
}

/** The id of the request being handled, or "unknown" outside any request scope. */
export function currentRequestId(): string {
  return storage.getStore()?.requestId ?? "unknown";
}

/**
 * Binds `fn` to the request scope (and every other async context) current at the time of the
 * call. Needed where a callback is stored now and run later from elsewhere: a job handed to
 * a shared worker-pool loop, a listener on an emitter that another request fires.
 *
 * @example
 * pool.submit(bindRequest(() => work(item)));
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- what AsyncResource.bind takes
export function bindRequest<F extends (...args: any[]) => unknown>(fn: F): F {
  return AsyncResource.bind(fn) as unknown as F;
}

/**
 * Optional observers of request scopes (OpenTelemetry uses one): told when a tracker enters a
 * request scope, and asked for the span ids outgoing calls should carry.
 */
export interface ScopeObserver {
  /** A request scope of the observed tracker begins (`withRequest`, the HTTP middleware). */
  enter?(scope: RequestScope): void;
  /** That scope's function has settled. */
  exit?(scope: RequestScope): void;
  /** The trace and span id an outgoing call from `scope` should name as its parent. */
  spanContext?(scope: RequestScope): { traceId: string; spanId: string } | undefined;
}

const observers = new WeakMap<ScopeTracker, ScopeObserver[]>();

/** Registers `observer` for the scopes of `tracker`; returns the function that removes it. */
export function observeScopes(tracker: ScopeTracker, observer: ScopeObserver): () => void {
  observers.set(tracker, [...(observers.get(tracker) ?? []), observer]);
  return () => {
    const rest = (observers.get(tracker) ?? []).filter((o) => o !== observer);
    if (rest.length > 0) observers.set(tracker, rest);
    else observers.delete(tracker);
  };
}

/** The observers of `tracker`'s scopes (usually none). */
export function scopeObservers(tracker: ScopeTracker | undefined): readonly ScopeObserver[] {
  return (tracker && observers.get(tracker)) ?? NONE;
}

const NONE: readonly ScopeObserver[] = Object.freeze([]);
