import { performance } from "node:perf_hooks";
import { runRequest } from "../context/request-handle.js";
import { currentScope, type RequestScope, runInScope } from "../context/scope.js";
import type { Tracker } from "../tracker/tracker.js";
import { completeTrustedCall, type TrustedCalls } from "../tracker/trusted-calls.js";

/** One tracked call, from `begin` to `end`. */
export class TrackedCall {
  private readonly startedAt = performance.now();
  private error: unknown = undefined;
  private done = false;
  private failed = false;
  private scope: RequestScope | undefined;

  constructor(
    private readonly tracker: Tracker,
    /** The tracker's unparsed entry points, when it has them (see trusted-calls.ts). */
    private readonly trusted: TrustedCalls | null,
    /** The request id; adapters set it as the `X-Request-ID` response header. */
    readonly id: string,
    private readonly method: string,
    private readonly route: string | null,
    private readonly correlationId: string,
    private readonly traceparent: string | undefined,
  ) {}

  /** Runs `fn` (the rest of the framework's chain) inside the request scope. */
  run<T>(fn: () => T): T {
    const options = { correlationId: this.correlationId, traceparent: this.traceparent ?? null };
    return runRequest(
      this.tracker,
      this.id,
      () => {
        this.scope = currentScope();
        return fn();
      },
      options,
      true,
    );
  }

  /**
   * Runs `fn` back inside the scope of `run`. Request bodies arrive through stream events,
   * which run in the socket's async context, not the request's: a framework that calls the
   * handler from its body parser (Fastify) re-enters here.
   */
  resume<T>(fn: () => T): T {
    return this.scope ? runInScope(this.scope, fn) : fn();
  }

  /** Makes `emitter`'s listeners run in the request scope (Express body parsers, node:http). */
  bindEmitter(emitter: { emit(event: string | symbol, ...args: unknown[]): boolean }): void {
    const emit = emitter.emit;
    emitter.emit = (event, ...args) => this.resume(() => emit.call(emitter, event, ...args));
  }

  /** Remembers the error the handler failed with, for the record of a 5xx. */
  fail(error: unknown): void {
    this.error ??= error;
  }

  /** Records the outcome: completed below 500, failed with the error message from 500 on. */
  end(statusCode: number, route?: string | null): void {
    if (this.done) return;
    this.done = true;
    const processingMs = Math.round((performance.now() - this.startedAt) * 100) / 100;
    const outcome = { statusCode, route: route ?? this.route, processingMs };
    const tracker = this.tracker;
    if (statusCode < 500) {
      this.record(
        this.trusted
          ? this.trusted[completeTrustedCall](this.id, outcome)
          : tracker.completeRequest(this.id, outcome),
      );
      return;
    }
    const error = this.error;
    this.record(
      tracker.failRequest(this.id, {
        message: error instanceof Error ? error.message : `HTTP ${statusCode}`,
        details: {
          ...outcome,
          method: this.method,
          ...(error instanceof Error ? { exceptionType: error.name } : {}),
        },
      }),
    );
  }

  /** The client went away before the response was sent. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.record(this.tracker.cancelRequest(this.id, "client closed the connection"));
  }

  /** Tracking writes are never awaited on the request path; a failure is logged once. */
  record(write: Promise<unknown>): void {
    write.catch((error: unknown) => {
      if (this.failed) return;
      this.failed = true;
      this.tracker.logger.warn({ err: error, request_id: this.id }, "request tracking failed");
    });
  }
}
