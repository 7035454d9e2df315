import { runRequest, type WithRequestOptions } from "../context/request-handle.js";
import { ValidationError } from "../core/errors.js";
import {
  type AnnotateInput,
  type ContextInput,
  type CreateRequestInput,
  type ErrorInput,
  type ListRequestsInput,
  type LogEventInput,
  listFilterSchema,
  nameSchema,
  parse,
  type RecordCostInput,
  type StageFailureInput,
} from "../core/schemas.js";
import type { CostSplit, Page, Request, RequestEvent, RequestRecord } from "../core/types.js";
import type { CreateOp } from "../core/ops.js";
import type { PurgeCounts } from "../store/store.js";
import { type BreakerOptions, type BreakerStats, breakersOf } from "./breakers.js";
import { pendingRequestView } from "../core/pending-request.js";
import { type IngestResult, ingestOps } from "./ingest.js";
import { type TrackStageOptions, trackStage } from "./track-stage.js";
import type { ClaimOptions, QueueDepth } from "./queue.js";
import type { ReplayOptions } from "./replay.js";
import type { SweepReport } from "./watchdog.js";
import type { WorkHandler, Worker, WorkerHost, WorkOptions } from "./worker.js";
import { startWorker } from "./worker-host.js";
import { TrackerCore } from "./tracker-core.js";
import {
  beginTrustedCall,
  completeTrustedCall,
  type TrustedCalls,
  type TrustedCreateInput,
  type TrustedOutcome,
} from "./trusted-calls.js";

export type { AlertEvent, LiveEvent, ResyncEvent } from "../core/live-events.js";

/** A request id, or the request itself: every method accepts either. */
export type RequestRef = string | { readonly id: string };

export type { TrackStageOptions };

/**
 * The public facade: lifecycle, stages, events, costs and queries over one store.
 * Create it with `createTracker()`. Writes are validated here, group-committed by the
 * committer, and each promise resolves once its change is durable (or safely in the outbox).
 */
export class Tracker extends TrackerCore implements TrustedCalls {
  /**
   * Runs `fn` as request `ref`: inside it (and everything it awaits) `currentRequestId()`,
   * `currentRequest()`, `propagationHeaders()` and `tracker.logger` know the request.
   *
   * @example
   * await tracker.withRequest(req, async () => currentRequest()?.recordCost(cost));
   */
  withRequest<T>(ref: RequestRef, fn: () => T, options: WithRequestOptions = {}): T {
    const id = this.ops.requestId(idOf(ref));
    // The stored correlation id travels on: given, else the request's own, else one this
    // tracker remembers from creating it.
    const stored =
      typeof ref === "object" && "correlationId" in ref
        ? (ref as { correlationId?: string | null }).correlationId
        : this.known.correlationIdOf(id);
    const correlationId = options.correlationId ?? stored ?? null;
    return runRequest(this, id, fn, correlationId ? { ...options, correlationId } : options);
  }

  /**
   * The correlation id stored with a request this tracker created (recently), if it knows
   * it; scopes opened by id alone (`trackStage` outside `withRequest`) send it on.
   */
  correlationIdOf(id: string): string | null {
    return this.known.correlationIdOf(id) ?? null;
  }

  /**
   * An opossum circuit breaker around `fn`, named `name`. Inside a request, a call it refuses
   * while open fails the current stage (retryable) and logs a `circuit_breaker_open` event; it
   * alerts when it opens or its failure rate passes 10%. See `breakerStats()`.
   *
   * @example
   * const gemini = tracker.breaker("gemini_api", callGemini, { timeout: 30_000 });
   * const script = await currentRequest()?.trackStage("script_generation", () => gemini.fire(topic));
   */
  breaker<TI extends unknown[], TR>(
    name: string,
    fn: (...args: TI) => Promise<TR>,
    options?: BreakerOptions<TI>,
  ) {
    return breakersOf(this).create(name, fn, options);
  }

  /** State, calls, failures and failure rate of every breaker made by `breaker()`, by name. */
  breakerStats(): Record<string, BreakerStats> {
    return breakersOf(this).stats();
  }

  /**
   * Records a new pending request and returns it, with the correlation id it stored (given,
   * else made from the id) that every propagation helper sends on. A caller-chosen `id` that
   * already exists returns the stored request (with a warning) instead of a second row.
   */
  async createRequest(input: CreateRequestInput): Promise<Request> {
    return this.create(input, null);
  }

  /**
   * Makes a NEW request that replays `ref`: same input, user, tenant, kind, priority and
   * tags (plus the tag `replay`) unless `options` changes them, with `replayOf` pointing at
   * the original, which stays as it was. It is budget-checked like any new request. With
   * `fromStage`, the completed stages before it are copied (marked `reusedFrom`), so a
   * worker resumes there. Throws `NotFoundError` (field `id`) for an unknown or deleted
   * request, and `ValidationError` (field `fromStage`) for a stage the request never ran.
   *
   * @example
   * const again = await tracker.replay(req.id, { fromStage: "render", input: { ...req.input, seed: 7 } });
   */
  async replay(ref: RequestRef, options: ReplayOptions = {}): Promise<Request> {
    this.assertOpen();
    return this.replays.replay(idOf(ref), options);
  }

  protected async create(input: CreateRequestInput, replayOf: string | null): Promise<Request> {
    const op = this.ops.create(input, this.origin());
    if (replayOf !== null) op.request.replayOf = replayOf;
    const result = await this.submit(op);
    if (result.ok && result.duplicate && result.created) {
      return { ...result.created, stages: [], costs: [], ...(await this.detail(op.request.id)) };
    }
    return pendingRequestView(op.request);
  }

  /** @internal The HTTP middleware's create and start of a call (see trusted-calls.ts). */
  [beginTrustedCall](input: TrustedCreateInput): Promise<unknown> {
    let create: CreateOp;
    try {
      create = this.ops.createTrusted(input, this.origin());
    } catch (error) {
      // As from `createRequest`: a refused input rejects, it does not throw.
      return Promise.reject(error);
    }
    const start = this.ops.startTrusted(create.request.id, this.origin());
    return Promise.all([this.submit(create), this.submit(start)]);
  }

  /** @internal The HTTP middleware's end of a call below 500 (see trusted-calls.ts). */
  [completeTrustedCall](id: string, outcome: TrustedOutcome): Promise<unknown> {
    return this.submit(this.ops.completeTrusted(id, outcome, this.origin()));
  }

  /** pending -> running, on `workerId`. */
  async startRequest(ref: RequestRef, workerId?: string): Promise<void> {
    await this.submit(this.ops.transition(idOf(ref), "running", { workerId }, this.origin()));
  }

  /** running -> completed, keeping `result` (any JSON value). */
  async completeRequest(ref: RequestRef, result?: unknown): Promise<void> {
    await this.submit(this.ops.transition(idOf(ref), "completed", { result }, this.origin()));
  }

  /** running -> failed. `stage` defaults to the stage that was running. */
  async failRequest(ref: RequestRef, error: ErrorInput | string): Promise<void> {
    await this.submit(this.ops.transition(idOf(ref), "failed", { error }, this.origin()));
  }

  /** pending | running -> timeout, with "Generation timed out after N minutes". */
  async timeoutRequest(ref: RequestRef): Promise<void> {
    await this.submit(this.ops.transition(idOf(ref), "timeout", {}, this.origin()));
  }

  /** pending | running -> cancelled; `reason` is kept as the error message. */
  async cancelRequest(ref: RequestRef, reason = "cancelled"): Promise<void> {
    await this.submit(this.ops.transition(idOf(ref), "cancelled", { reason }, this.origin()));
  }

  /** failed | timeout -> pending, while attempts < maxAttempts. Stages and errorStage are kept. */
  async retryRequest(ref: RequestRef): Promise<void> {
    await this.submit(this.ops.transition(idOf(ref), "pending", {}, this.origin()));
  }

  async startStage(ref: RequestRef, stage: string): Promise<void> {
    await this.submit(this.ops.stage(idOf(ref), stage, "start", {}, this.origin()));
  }

  async completeStage(ref: RequestRef, stage: string, output?: unknown): Promise<void> {
    await this.submit(this.ops.stage(idOf(ref), stage, "complete", { output }, this.origin()));
  }

  async failStage(
    ref: RequestRef,
    stage: string,
    failure: StageFailureInput | string,
  ): Promise<void> {
    await this.submit(this.ops.stage(idOf(ref), stage, "fail", { failure }, this.origin()));
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
    return trackStage(this, idOf(ref), stage, fn, options);
  }

  /** Appends an event to the request's history. */
  async logEvent(ref: RequestRef, event: LogEventInput): Promise<void> {
    await this.submit(this.ops.event(idOf(ref), event, this.origin()));
  }

  /** Adds a cost. Amounts are stored as integer micro-USD, so sums are exact. */
  async recordCost(ref: RequestRef, cost: RecordCostInput): Promise<void> {
    await this.submit(this.ops.cost(idOf(ref), cost, this.origin()));
  }

  /**
   * Sets what was found out after creation, validated as at creation and recorded in the
   * history as an `annotated` event: `intent` and `entities` replace, `tags` are added,
   * `metadata` keys are merged into the request's `input` object.
   *
   * @example
   * await tracker.annotate(req, { intent: "schedule_meeting", entities: { date: "2026-01-05" } });
   */
  async annotate(ref: RequestRef, annotation: AnnotateInput): Promise<void> {
    await this.submit(this.ops.annotate(idOf(ref), annotation, this.origin()));
  }

  /** Sets tenant, session (null clears) and user once known (docs/integrations.md). */
  async setContext(ref: RequestRef, context: ContextInput): Promise<void> {
    await this.submit(this.ops.context(idOf(ref), context, this.origin()));
  }

  /** Adds `by` (default 1) to a counter such as agent_calls, tool_calls or rounds. */
  async increment(ref: RequestRef, counter: string, by = 1): Promise<void> {
    await this.submit(this.ops.increment(idOf(ref), counter, by, this.origin()));
  }

  /**
   * Applies a batch of ops from a remote client (`POST /api/v1/ingest`), in order, each
   * exactly once by its `opId`, and answers per op. One bad op fails alone. With `tenantId`
   * (a tenant-scoped API key) every op must stay inside that tenant: creations are put in
   * it, and a request of another tenant is answered as not found.
   */
  async ingest(
    ops: readonly unknown[],
    options: { tenantId?: string | null } = {},
  ): Promise<IngestResult[]> {
    this.assertOpen();
    return ingestOps(ops, options.tenantId ?? null, {
      builder: this.ops,
      clock: this.clock,
      submit: (op) => this.submit(op),
    });
  }

  /** The request with its stages and costs, or null when unknown (or soft-deleted). */
  async getRequest(ref: RequestRef): Promise<Request | null> {
    const id = this.ops.requestId(idOf(ref));
    return this.read("get_request", 1, () => this.store.getRequest(id));
  }

  /** The processing history: status changes, stage changes and logged events, in order. */
  async getEvents(ref: RequestRef): Promise<RequestEvent[]> {
    const id = this.ops.requestId(idOf(ref));
    return this.read("get_events", 1, () => this.store.getEvents(id));
  }

  /** Requests matching `filter`, newest first, with the total and a cursor for the next page. */
  async listRequests(filter: ListRequestsInput = {}): Promise<Page<RequestRecord>> {
    const { defaultPageSize, maxPageSize } = this.options;
    const data = parse(
      listFilterSchema,
      { ...filter, limit: filter?.limit ?? defaultPageSize },
      "filter",
    );
    if (data.limit > maxPageSize) throw new ValidationError("limit", `at most ${maxPageSize}`);
    const resolved = {
      ...data,
      from: data.from === undefined ? undefined : new Date(data.from),
      to: data.to === undefined ? undefined : new Date(data.to),
    };
    const paramCount = Object.values(filter).filter((v) => v !== undefined).length;
    return this.read("list_requests", paramCount, () => this.store.listRequests(resolved));
  }

  /**
   * What each of `ids` cost per service, largest first; soft-deleted requests and, with a
   * `tenantId`, other tenants' requests are left out. One read for a whole page of list rows.
   */
  async costSplit(
    ids: readonly string[],
    options: { tenantId?: string } = {},
  ): Promise<CostSplit[]> {
    if (!Array.isArray(ids) || ids.length > 1000) {
      throw new ValidationError("ids", "must be an array of at most 1000 request ids");
    }
    const valid = ids.map((id, i) => this.ops.requestId(id, `ids.${i}`));
    return this.read("cost_split", valid.length, () =>
      this.store.costSplit(valid, options.tenantId),
    );
  }

  /** A user's requests, newest first: their history. */
  async getUserRequests(
    userId: string,
    options: Omit<ListRequestsInput, "userId"> = {},
  ): Promise<RequestRecord[]> {
    if (typeof userId !== "string" || userId.length === 0) {
      throw new ValidationError("userId", "must not be empty");
    }
    return (await this.listRequests({ ...options, userId })).items;
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
    return this.queue.heartbeat(
      this.ops.requestId(idOf(ref)),
      parse(nameSchema, workerId, "workerId"),
    );
  }

  /** Gives a request `workerId` is running back to the queue; the run does not count as an attempt. */
  async releaseRequest(ref: RequestRef, workerId: string): Promise<boolean> {
    this.assertOpen();
    return this.queue.release(
      this.ops.requestId(idOf(ref)),
      parse(nameSchema, workerId, "workerId"),
    );
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
    const host: WorkerHost = {
      claimNext: (o) => this.claimNext(o),
      heartbeat: (id, workerId) => this.heartbeat(id, workerId),
      completeRequest: (id, result) => this.completeRequest(id, result),
      failRequest: (id, error) => this.failRequest(id, error as ErrorInput),
      releaseRequest: (id, workerId) => this.releaseRequest(id, workerId),
      waitForWork: (ms) => this.queue.waitForWork(ms),
      wake: () => this.queue.notify(),
      withRequest: (request, fn) =>
        this.withRequest(
          request,
          fn,
          request.correlationId ? { correlationId: request.correlationId } : {},
        ),
    };
    const worker = startWorker(host, this.options, options, handler, this.logger, (stopped) =>
      this.workers.delete(stopped),
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

  /** Pending requests per lane, and their total; of one tenant with `tenantId`. */
  async queueDepth(options: { tenantId?: string } = {}): Promise<QueueDepth> {
    const { tenantId } = options;
    const depth = await this.read("queue_depth", 0, () => this.store.queueDepth(tenantId));
    return { ...depth, total: depth.high + depth.normal + depth.low };
  }

  /** Soft delete: hidden from lists and history, still counted in cost figures until retention. */
  async deleteRequest(ref: RequestRef): Promise<void> {
    await this.submit(this.ops.delete(idOf(ref), this.origin()));
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
}

function idOf(ref: RequestRef): string {
  return typeof ref === "string" ? ref : (ref?.id ?? "");
}
