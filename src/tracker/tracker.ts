import { randomUUID } from "node:crypto";
import type { Logger } from "../context/logger.js";
import { promptPreview } from "../context/logger.js";
import { ClosedError, InvalidTransitionError, ValidationError } from "../core/errors.js";
import { newRequestId } from "../core/ids.js";
import { jsonProblem } from "../core/json.js";
import { laneFor } from "../core/lanes.js";
import type { ErrorInfo, NewRequest, Op, OpResult, TransitionOp } from "../core/ops.js";
import {
  type CreateRequestInput,
  counterSchema,
  createRequestSchema,
  type ErrorInput,
  errorInfoSchema,
  type ListRequestsInput,
  type LogEventInput,
  listFilterSchema,
  logEventSchema,
  nameSchema,
  parse,
  type RecordCostInput,
  recordCostSchema,
  requestId,
  type StageFailureInput,
  stageFailureSchema,
} from "../core/schemas.js";
import type {
  JsonValue,
  Page,
  Request,
  RequestEvent,
  RequestRecord,
  RequestStatus,
} from "../core/types.js";
import type { PurgeCounts, Store } from "../store/store.js";
import { Committer } from "./committer.js";
import type { ResolvedOptions } from "./options.js";
import type { Outbox } from "./outbox.js";
import { type ClaimOptions, Queue, type QueueDepth } from "./queue.js";
import { type SweepReport, Watchdog } from "./watchdog.js";
import { type WorkHandler, Worker, type WorkerHost, type WorkOptions } from "./worker.js";

/** A request id, or the request itself: every method accepts either. */
export type RequestRef = string | { readonly id: string };

export interface TrackStageOptions {
  /** Whether a failure may be retried. Default: the error's own `retryable` property, else false. */
  retryable?: boolean | ((error: unknown) => boolean);
}

const MAX_STAGE_OUTPUT_BYTES = 64 * 1024;

/**
 * The public facade: lifecycle, stages, events, costs and queries over one store.
 * Create it with `createTracker()`. Writes are validated here, group-committed by the
 * committer, and each promise resolves once its change is durable (or safely in the outbox).
 */
export class Tracker {
  readonly store: Store;
  private readonly options: ResolvedOptions;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly committer: Committer;
  private readonly opPrefix = randomUUID();
  private opCounter = 0;
  private closed = false;
  private readonly queue: Queue;
  private readonly watchdog: Watchdog;
  private readonly workers = new Set<Worker>();

  constructor(store: Store, outbox: Outbox, options: ResolvedOptions) {
    this.store = store;
    this.options = options;
    this.logger = options.logger;
    this.clock = options.clock;
    this.committer = new Committer({
      store,
      outbox,
      logger: options.logger,
      onStoreError: options.onStoreError,
      replayIntervalMs: options.replayIntervalMs,
    });
    this.queue = new Queue(this.committer, this.clock, this.logger, options.leaseMs);
    this.watchdog = new Watchdog(this.queue, options, this.logger, (olderThan) =>
      this.purge(olderThan),
    );
    this.watchdog.start();
  }

  /** True while changes wait in the outbox because the store could not be written. */
  get degraded(): boolean {
    return this.committer.degraded;
  }

  /**
   * Records a new pending request and returns it. A caller-chosen `id` that already exists
   * returns the stored request (with a warning) instead of a second row.
   */
  async createRequest(input: CreateRequestInput): Promise<Request> {
    const data = parse(createRequestSchema, input);
    const now = this.clock();
    const request: NewRequest = {
      id: data.id ?? newRequestId(now),
      priority: data.priority,
      lane: laneFor(data.priority),
      userId: data.userId,
      channelId: data.channelId ?? null,
      tenantId: data.tenantId ?? null,
      sessionId: data.sessionId ?? null,
      kind: data.kind ?? null,
      source: data.source ?? null,
      tags: [...new Set(data.tags)],
      initialMessage: data.initialMessage ?? null,
      input: (data.input as JsonValue | undefined) ?? null,
      intent: data.intent ?? null,
      entities: (data.entities as JsonValue | undefined) ?? null,
      parentId: data.parentId ?? null,
      correlationId: data.correlationId ?? null,
      maxAttempts: data.maxAttempts ?? this.options.defaultMaxAttempts,
      timeoutMs: data.timeoutMs ?? this.timeoutFor(data.kind),
      deadlineAt: data.deadline === undefined ? null : new Date(data.deadline).getTime(),
      createdAt: now,
    };
    const result = await this.write({ type: "create", opId: this.opId(), at: now, request });
    if (result.ok && result.duplicate && result.created) {
      this.logger.warn(
        { request_id: request.id },
        "request id exists; returning the existing request",
      );
      return { ...result.created, stages: [], costs: [], ...(await this.detail(request.id)) };
    }
    const prompt = request.initialMessage ?? promptOf(request.input);
    this.logger.info(
      {
        request_id: request.id,
        user_id: request.userId,
        tenant_id: request.tenantId,
        kind: request.kind,
        prompt_length: prompt?.length ?? 0,
        prompt: promptPreview(prompt),
        parameters: parametersOf(request.input),
        degraded: result.ok && result.degraded ? true : undefined,
      },
      "request created",
    );
    this.queue.notify();
    return newRequestView(request);
  }

  /** pending -> running, on `workerId`. */
  async startRequest(ref: RequestRef, workerId?: string): Promise<void> {
    return this.transition(ref, "running", { workerId: workerId ?? null });
  }

  /** running -> completed, keeping `result` (any JSON value). */
  async completeRequest(ref: RequestRef, result?: unknown): Promise<void> {
    const value = result === undefined ? null : this.checkJson("result", result);
    return this.transition(ref, "completed", { result: value });
  }

  /** running -> failed. `stage` defaults to the stage that was running. */
  async failRequest(ref: RequestRef, error: ErrorInput | string): Promise<void> {
    const info = parse(
      errorInfoSchema,
      typeof error === "string" ? { message: error } : error,
      "error",
    );
    return this.transition(ref, "failed", { error: info as ErrorInfo });
  }

  /** pending | running -> timeout, with "Generation timed out after N minutes". */
  async timeoutRequest(ref: RequestRef): Promise<void> {
    return this.transition(ref, "timeout", {});
  }

  /** pending | running -> cancelled; `reason` is kept as the error message. */
  async cancelRequest(ref: RequestRef, reason = "cancelled"): Promise<void> {
    return this.transition(ref, "cancelled", { error: { message: reason } });
  }

  /** failed | timeout -> pending, while attempts < maxAttempts. Stages and errorStage are kept. */
  async retryRequest(ref: RequestRef): Promise<void> {
    return this.transition(ref, "pending", {});
  }

  async startStage(ref: RequestRef, stage: string): Promise<void> {
    return this.stageOp(ref, stage, "start", {});
  }

  async completeStage(ref: RequestRef, stage: string, output?: unknown): Promise<void> {
    const value = output === undefined ? null : this.checkJson("output", output);
    return this.stageOp(ref, stage, "complete", { output: value });
  }

  async failStage(
    ref: RequestRef,
    stage: string,
    failure: StageFailureInput | string,
  ): Promise<void> {
    const info = parse(
      stageFailureSchema,
      typeof failure === "string" ? { message: failure } : failure,
      "failure",
    );
    return this.stageOp(ref, stage, "fail", {
      error: {
        message: info.message,
        details: (info.details as JsonValue) ?? null,
        retryable: info.retryable,
      },
    });
  }

  /**
   * Runs `fn` as stage `stage`: starts it, completes it with `fn`'s result as output, or
   * fails it (message, exception type, stack, retryable) and rethrows.
   *
   * @example
   * const script = await tracker.trackStage(req, "script_generation", () => generateScript(topic));
   */
  async trackStage<T>(
    ref: RequestRef,
    stage: string,
    fn: () => T | Promise<T>,
    options: TrackStageOptions = {},
  ): Promise<T> {
    await this.startStage(ref, stage);
    let value: T;
    try {
      value = await fn();
    } catch (error) {
      const retryable =
        typeof options.retryable === "function"
          ? options.retryable(error)
          : (options.retryable ?? (error as { retryable?: unknown })?.retryable === true);
      await this.failStage(ref, stage, {
        message: error instanceof Error ? error.message : String(error),
        details: errorDetails(error),
        retryable,
      }).catch((failure: unknown) =>
        this.logger.warn(
          { err: failure, request_id: idOf(ref), stage },
          "could not record stage failure",
        ),
      );
      throw error;
    }
    await this.completeStage(ref, stage, this.storableOutput(value, idOf(ref), stage));
    return value;
  }

  /** Appends an event to the request's history. */
  async logEvent(ref: RequestRef, event: LogEventInput): Promise<void> {
    const data = parse(logEventSchema, event, "event");
    await this.write({
      type: "event",
      opId: this.opId(),
      at: this.clock(),
      requestId: this.idOf(ref),
      eventType: data.type,
      severity: data.severity,
      message: data.message,
      stage: data.stage ?? null,
      data: (data.data as JsonValue | undefined) ?? null,
    });
  }

  /** Adds a cost. Amounts are stored as integer micro-USD, so sums are exact. */
  async recordCost(ref: RequestRef, cost: RecordCostInput): Promise<void> {
    const data = parse(recordCostSchema, cost, "cost");
    await this.write({
      type: "cost",
      opId: this.opId(),
      at: this.clock(),
      requestId: this.idOf(ref),
      service: data.service,
      amountMicros: Math.round(data.amountUsd * 1_000_000),
      usage: (data.usage as JsonValue | undefined) ?? null,
      stage: data.stage ?? null,
    });
  }

  /** Adds `by` (default 1) to a counter such as agent_calls, tool_calls or rounds. */
  async increment(ref: RequestRef, counter: string, by = 1): Promise<void> {
    const name = parse(counterSchema, counter, "counter");
    if (!Number.isFinite(by)) throw new ValidationError("by", "must be a finite number");
    await this.write({
      type: "increment",
      opId: this.opId(),
      at: this.clock(),
      requestId: this.idOf(ref),
      counter: name,
      by,
    });
  }

  /** The request with its stages and costs, or null when unknown (or soft-deleted). */
  async getRequest(ref: RequestRef): Promise<Request | null> {
    const id = this.idOf(ref);
    return this.read("get_request", 1, () => this.store.getRequest(id));
  }

  /** The processing history: status changes, stage changes and logged events, in order. */
  async getEvents(ref: RequestRef): Promise<RequestEvent[]> {
    const id = this.idOf(ref);
    return this.read("get_events", 1, () => this.store.getEvents(id));
  }

  /** Requests matching `filter`, newest first, with the total and a cursor for the next page. */
  async listRequests(filter: ListRequestsInput = {}): Promise<Page<RequestRecord>> {
    const data = parse(listFilterSchema, filter, "filter");
    const resolved = {
      ...data,
      from: data.from === undefined ? undefined : new Date(data.from),
      to: data.to === undefined ? undefined : new Date(data.to),
    };
    const paramCount = Object.values(filter).filter((v) => v !== undefined).length;
    return this.read("list_requests", paramCount, () => this.store.listRequests(resolved));
  }

  /** A user's requests, newest first (seed 000/001 history). */
  async getUserRequests(
    userId: string,
    options: Omit<ListRequestsInput, "userId"> = {},
  ): Promise<RequestRecord[]> {
    if (typeof userId !== "string" || userId.length === 0) {
      throw new ValidationError("userId", "must not be empty");
    }
    return (await this.listRequests({ ...options, userId })).items;
  }

  /** Waits until every change made so far is committed (or in the outbox). */
  async flush(): Promise<void> {
    return this.committer.flush();
  }

  /** Tries to replay the outbox now; true when it is empty afterwards. */
  async replayOutbox(): Promise<boolean> {
    return this.committer.replay();
  }

  /** Flushes pending writes, makes a last replay attempt, and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.watchdog.stop();
    await Promise.all([...this.workers].map((worker) => worker.stop()));
    this.closed = true;
    await this.committer.close();
    await this.store.close();
  }

  // --- queue ------------------------------------------------------------------------------

  /**
   * Atomically takes the best pending request (lane, then earliest deadline, then oldest)
   * and leases it to `workerId` for `leaseMs`; null when none is waiting. A retried request
   * comes with its earlier stages, so a handler can resume where the last run failed.
   */
  async claimNext(options: ClaimOptions): Promise<Request | null> {
    this.assertOpen();
    return this.queue.claimNext(options);
  }

  /** Extends the lease; false when it was lost (stop working on the request). */
  async heartbeat(ref: RequestRef, workerId: string): Promise<boolean> {
    this.assertOpen();
    return this.queue.heartbeat(this.idOf(ref), parse(nameSchema, workerId, "workerId"));
  }

  /** Gives a request `workerId` is running back to the queue; the run does not count as an attempt. */
  async releaseRequest(ref: RequestRef, workerId: string): Promise<boolean> {
    this.assertOpen();
    return this.queue.release(this.idOf(ref), parse(nameSchema, workerId, "workerId"));
  }

  /**
   * Runs `handler` on claimed requests, `concurrency` at a time, each inside its request's
   * context scope with its lease kept alive; completes with the handler's result or fails
   * with its error. `worker.stop()` (or `tracker.close()`) drains it.
   *
   * @example
   * const worker = tracker.work({ kinds: ["video_generation"], concurrency: 8 }, async (req) => render(req.input));
   */
  work(options: WorkOptions, handler: WorkHandler): Worker {
    this.assertOpen();
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ValidationError("concurrency", "must be a positive integer");
    }
    const leaseMs = options.leaseMs ?? this.options.leaseMs;
    const host: WorkerHost = {
      claimNext: (o) => this.claimNext(o),
      heartbeat: (id, workerId) => this.heartbeat(id, workerId),
      completeRequest: (id, result) => this.completeRequest(id, result),
      failRequest: (id, error) => this.failRequest(id, error as ErrorInput),
      releaseRequest: (id, workerId) => this.releaseRequest(id, workerId),
      waitForWork: (ms) => this.queue.waitForWork(ms),
    };
    const worker = new Worker(
      host,
      {
        concurrency,
        leaseMs,
        heartbeatMs: options.heartbeatMs ?? Math.max(10, Math.floor(leaseMs / 3)),
        pollMs: options.pollMs ?? 1000,
        graceMs: options.graceMs ?? this.options.shutdownGraceMs,
        ...(options.kinds ? { kinds: options.kinds } : {}),
      },
      handler,
      this.logger,
      options.workerId === undefined ? undefined : parse(nameSchema, options.workerId, "workerId"),
      () => this.workers.delete(worker),
    );
    this.workers.add(worker);
    return worker;
  }

  /** Running requests with their worker and lease expiry, oldest first. */
  async activeRequests(): Promise<RequestRecord[]> {
    const page = await this.read("active_requests", 1, () =>
      this.store.listRequests({ status: "running", limit: 1000, offset: 0 }),
    );
    return page.items.reverse();
  }

  /** Pending requests per lane, and their total. */
  async queueDepth(): Promise<QueueDepth> {
    const depth = await this.read("queue_depth", 0, () => this.store.queueDepth());
    return { ...depth, total: depth.high + depth.normal + depth.low };
  }

  /** Soft delete: hidden from lists and history, still counted in cost figures until retention. */
  async deleteRequest(ref: RequestRef): Promise<void> {
    await this.write({
      type: "delete",
      opId: this.opId(),
      at: this.clock(),
      requestId: this.idOf(ref),
    });
  }

  /** Hard-deletes requests created before `olderThan`, with their stages, events and costs. */
  async cleanup(options: { olderThan: Date | number }): Promise<PurgeCounts> {
    this.assertOpen();
    const olderThan = new Date(options?.olderThan ?? Number.NaN).getTime();
    if (Number.isNaN(olderThan))
      throw new ValidationError("olderThan", "must be a Date or epoch milliseconds");
    const counts = await this.purge(olderThan);
    this.logger.info({ older_than: new Date(olderThan).toISOString(), deleted: counts }, "cleanup");
    return counts;
  }

  /** One watchdog pass now: leases, run timeouts, deadlines, stale requests, aging, retention. */
  async sweep(): Promise<SweepReport> {
    this.assertOpen();
    return this.watchdog.sweep();
  }

  private async purge(olderThan: number): Promise<PurgeCounts> {
    await this.committer.flush();
    return this.store.purge(olderThan);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError();
  }

  private async transition(
    ref: RequestRef,
    to: RequestStatus,
    fields: Pick<TransitionOp, "workerId" | "result" | "error">,
  ): Promise<void> {
    const op: TransitionOp = {
      type: "transition",
      opId: this.opId(),
      at: this.clock(),
      requestId: this.idOf(ref),
      to,
      ...fields,
    };
    let result: OpResult;
    try {
      result = await this.write(op);
    } catch (error) {
      if (error instanceof InvalidTransitionError) {
        this.logger.warn(
          { request_id: op.requestId, old_status: error.from, new_status: error.to },
          error.message,
        );
      }
      throw error;
    }
    if (!result.ok) return;
    const outcome = result.transition;
    if (!outcome) {
      this.logger.info(
        { request_id: op.requestId, new_status: to, degraded: true },
        "status changed",
      );
      return;
    }
    if (outcome.noop) return;
    const failed = to === "failed" || to === "timeout" || to === "cancelled";
    this.logger.info(
      {
        request_id: op.requestId,
        old_status: outcome.from,
        new_status: outcome.to,
        duration_ms: outcome.durationMs ?? undefined,
        queue_ms: to === "running" ? outcome.queueMs : undefined,
        error_message: failed ? outcome.errorMessage : undefined,
      },
      "status changed",
    );
  }

  private async stageOp(
    ref: RequestRef,
    stage: string,
    action: "start" | "complete" | "fail",
    fields: { output?: JsonValue | null; error?: ErrorInfo & { retryable: boolean } },
  ): Promise<void> {
    await this.write({
      type: "stage",
      opId: this.opId(),
      at: this.clock(),
      requestId: this.idOf(ref),
      stage: parse(nameSchema, stage, "stage"),
      action,
      ...fields,
    });
  }

  private write(op: Op): Promise<OpResult> {
    if (this.closed) return Promise.reject(new ClosedError());
    return this.committer.submit(op);
  }

  /** Reads see every write made before them; slow ones are logged (seed 001). */
  private async read<T>(type: string, paramCount: number, query: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ClosedError();
    await this.committer.flush();
    const started = this.clock();
    const result = await query();
    const elapsed = this.clock() - started;
    if (elapsed > this.options.slowQueryMs) {
      const level = elapsed > this.options.slowQueryMs * 5 ? "warn" : "info";
      this.logger[level](
        { query_type: type, param_count: paramCount, duration_ms: elapsed },
        "slow query",
      );
    }
    return result;
  }

  private async detail(id: string): Promise<Partial<Request>> {
    const stored = await this.store.getRequest(id);
    return stored ? { stages: stored.stages, costs: stored.costs } : {};
  }

  private idOf(ref: RequestRef): string {
    return parse(requestId, idOf(ref), "id");
  }

  private opId(): string {
    return `${this.opPrefix}:${++this.opCounter}`;
  }

  private timeoutFor(kind: string | undefined): number {
    return (
      (kind !== undefined ? this.options.timeouts[kind] : undefined) ??
      this.options.defaultTimeoutMs
    );
  }

  private checkJson(field: string, value: unknown): JsonValue {
    const problem = jsonProblem(value);
    if (problem) throw new ValidationError(field, problem);
    return value as JsonValue;
  }

  /** A stage's return value is kept when it is JSON and small; otherwise only noted. */
  private storableOutput(value: unknown, id: string, stage: string): JsonValue | null {
    if (value === undefined) return null;
    if (
      jsonProblem(value) === null &&
      Buffer.byteLength(JSON.stringify(value)) <= MAX_STAGE_OUTPUT_BYTES
    ) {
      return value as JsonValue;
    }
    this.logger.debug(
      { request_id: id, stage },
      "stage output not stored (not JSON or over 64 KiB)",
    );
    return null;
  }
}

function idOf(ref: RequestRef): string {
  return typeof ref === "string" ? ref : (ref?.id ?? "");
}

function promptOf(input: JsonValue | null): string | null {
  if (
    input &&
    typeof input === "object" &&
    !Array.isArray(input) &&
    typeof input.prompt === "string"
  ) {
    return input.prompt;
  }
  return null;
}

function parametersOf(input: JsonValue | null): JsonValue | undefined {
  if (input && typeof input === "object" && !Array.isArray(input)) return input.parameters;
  return undefined;
}

function errorDetails(error: unknown): JsonValue {
  if (error instanceof Error) {
    return { exceptionType: error.name, stack: error.stack ?? null };
  }
  return { exceptionType: typeof error };
}

function newRequestView(r: NewRequest): Request {
  const created = new Date(r.createdAt);
  return {
    id: r.id,
    status: "pending",
    priority: r.priority,
    lane: r.lane,
    userId: r.userId,
    channelId: r.channelId,
    tenantId: r.tenantId,
    sessionId: r.sessionId,
    kind: r.kind,
    source: r.source,
    tags: r.tags,
    initialMessage: r.initialMessage,
    input: r.input,
    intent: r.intent,
    entities: r.entities,
    parentId: r.parentId,
    correlationId: r.correlationId,
    result: null,
    errorMessage: null,
    errorStage: null,
    errorDetails: null,
    attempts: 0,
    maxAttempts: r.maxAttempts,
    timeoutMs: r.timeoutMs,
    workerId: null,
    leaseExpiresAt: null,
    deadline: r.deadlineAt === null ? null : new Date(r.deadlineAt),
    createdAt: created,
    startedAt: null,
    completedAt: null,
    updatedAt: created,
    deletedAt: null,
    queueMs: null,
    durationMs: null,
    costUsd: 0,
    counters: {},
    stages: [],
    costs: [],
  };
}
