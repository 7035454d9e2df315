import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { type AnalyticsContext, Costs, Stats } from "../analytics/stats.js";
import { type Logger, withRequestIds } from "../context/logger.js";
import { runRequest, type WithRequestOptions } from "../context/request-handle.js";
import { ClosedError, ValidationError } from "../core/errors.js";
import type { Op, OpResult } from "../core/ops.js";
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
import {
  type CostSplit,
  type Page,
  type Request,
  type RequestEvent,
  type RequestRecord,
  TERMINAL_STATUSES,
} from "../core/types.js";
import type { PurgeCounts, Store } from "../store/store.js";
import { type BreakerOptions, type BreakerStats, breakersOf } from "./breakers.js";
import type { AlertEvent, LiveEvent, ResyncEvent } from "../core/live-events.js";
import { pendingRequestView } from "../core/pending-request.js";
import { Committer } from "./committer.js";
import { KnownRequests } from "./known-requests.js";
import type { ResolvedOptions } from "./options.js";
import { ApiKeys } from "./api-keys.js";
import { type IngestResult, ingestOps } from "./ingest.js";
import { type TrackStageOptions, trackStage } from "./track-stage.js";
import { OpBuilder, type OpOrigin } from "./op-builder.js";
import { logOutcome, logRefusal } from "./op-log.js";
import type { Outbox } from "./outbox.js";
import { type ClaimOptions, Queue, type QueueDepth } from "./queue.js";
import { Budgets } from "./budgets.js";
import { Prices } from "./prices.js";
import { type ReplayOptions, Replays } from "./replay.js";
import { type SweepReport, Watchdog } from "./watchdog.js";
import { type WorkHandler, Worker, type WorkerHost, type WorkOptions } from "./worker.js";

export type { AlertEvent, LiveEvent, ResyncEvent } from "../core/live-events.js";

/** A request id, or the request itself: every method accepts either. */
export type RequestRef = string | { readonly id: string };

export type { TrackStageOptions };

/**
 * The public facade: lifecycle, stages, events, costs and queries over one store.
 * Create it with `createTracker()`. Writes are validated here, group-committed by the
 * committer, and each promise resolves once its change is durable (or safely in the outbox).
 */
export class Tracker {
  readonly store: Store;
  private readonly options: ResolvedOptions;
  /** The pino logger this tracker writes to; inside a request scope its lines carry `request_id`. */
  readonly logger: Logger;
  private readonly clock: () => number;
  private readonly committer: Committer;
  private readonly opPrefix = randomUUID();
  private opCounter = 0;
  private closed = false;
  private readonly queue: Queue;
  private readonly watchdog: Watchdog;
  private readonly workers = new Set<Worker>();
  private readonly live = new EventEmitter();
  /** Stops hearing other servers' changes and gaps in them (a shared store only). */
  private readonly stopRemoteChanges: (() => void) | undefined;
  private readonly stopRemoteGaps: (() => void) | undefined;
  private readonly ops: OpBuilder;
  private readonly known: KnownRequests;
  /** The `labelFields` option: input fields that label finished requests in logs and metrics. */
  readonly labelFields: readonly string[];
  /** API keys for the HTTP server: create (secret shown once), list, revoke, verify. */
  readonly keys: ApiKeys;
  /** Dashboards from rollups: overview, timeseries, group statistics, stage breakdown. */
  readonly stats: Stats;
  /** Cost reports by service, operation, tenant and session. */
  readonly costs: Costs;
  /** Cost budgets: spend limits per scope and period, alerting at thresholds, optionally enforced. */
  readonly budgets: Budgets;
  /** The versioned price table that prices costs recorded with usage and no amount; reprice. */
  readonly prices: Prices;
  /** Replays: compare, the replays of a request, bulk replay jobs. See `replay()`. */
  readonly replays: Replays;

  constructor(store: Store, outbox: Outbox, options: ResolvedOptions) {
    this.store = store;
    this.options = options;
    this.logger = withRequestIds(options.logger);
    this.clock = options.clock;
    this.ops = new OpBuilder(options);
    this.labelFields = options.labelFields;
    this.known = new KnownRequests(options.labelFields);
    this.keys = new ApiKeys(store, options.clock);
    const analytics: AnalyticsContext = {
      store: store.analytics,
      clock: options.clock,
      read: (type, paramCount, query) => this.read(type, paramCount, query),
      replayTotals: (range, scope, top) => store.replays.replayCostTotals(range, scope, top),
    };
    this.stats = new Stats(analytics);
    this.budgets = new Budgets({
      store,
      clock: options.clock,
      logger: this.logger,
      intervalMs: options.budgetIntervalMs,
      alert: ({ name, message, tenantId, data }) =>
        this.alert({ name, message, tenantId, data: { budget: data } }),
    });
    this.costs = new Costs(analytics);
    this.prices = new Prices({ store, clock: options.clock, flush: () => this.flush() });
    this.replays = new Replays({
      store,
      clock: options.clock,
      read: (id) =>
        this.read("get_request", 1, () => store.getRequest(id, { includeDeleted: true })),
      create: (input, replayOf) => this.create(input, replayOf),
    });
    this.committer = new Committer({
      store,
      outbox,
      logger: options.logger,
      onStoreError: options.onStoreError,
      replayIntervalMs: options.replayIntervalMs,
      onChanges: (changes) => {
        for (const change of changes) {
          // A run's end carries the request's labels (`labelFields`), for metrics.
          if (this.labelFields.length > 0 && typeof change.data.to === "string") {
            const labels = this.known.labelsOf(change.requestId);
            if (labels) change.data.labels = labels;
          }
          this.live.emit("live", change);
        }
      },
      wantsChanges: () => this.live.listenerCount("live") > 0,
    });
    this.live.setMaxListeners(0);
    this.queue = new Queue(this.committer, this.clock, this.logger, options.leaseMs);
    // Changes committed through other servers (PostgreSQL LISTEN/NOTIFY): this server's
    // subscribers see them too, and new pending work wakes idle workers at once.
    this.stopRemoteChanges = store.onRemoteChanges?.((changes) => {
      let work = false;
      for (const change of changes) {
        this.live.emit("live", change);
        if (change.status === "pending" && change.type.startsWith("request.")) work = true;
      }
      if (work) this.queue.notify();
    });
    // Heard again after a gap: whatever other servers committed meanwhile was not heard.
    // Subscribers reload; idle workers look for work that may have been created meanwhile.
    this.stopRemoteGaps = store.onRemoteGap?.((gap) => {
      this.logger.warn(
        { since: new Date(gap.since).toISOString(), until: new Date(gap.until).toISOString() },
        "Did not hear other servers' changes for a while (LISTEN reconnected); live subscribers were told to resync",
      );
      this.queue.notify();
      const event: ResyncEvent = {
        type: "resync",
        reason: "missed_changes",
        since: gap.since,
        at: gap.until,
      };
      try {
        this.live.emit("live", event);
      } catch (error) {
        this.logger.error({ err: error }, "change subscriber threw");
      }
    });
    this.watchdog = new Watchdog(
      this.queue,
      options,
      this.logger,
      (olderThan) => this.purge(olderThan),
      (olderThan) => store.pruneAppliedOps(olderThan),
      async (offset) => {
        const page = await store.listRequests({ limit: 1, offset, includeDeleted: true });
        const nth = page.items[0];
        return nth ? new Date(nth.createdAt).getTime() : null;
      },
    );
    this.watchdog.start();
  }

  /**
   * Calls `listener` with every committed change (`request.created`, `request.updated`,
   * `stage.updated`, `event.logged`) and every `alert`, after its commit, and with a `resync`
   * when changes of other servers may have been missed. Returns the unsubscribe function.
   * This is what the live stream (SSE) is built on.
   */
  subscribe(listener: (event: LiveEvent) => void): () => void {
    this.live.on("live", listener);
    return () => this.live.off("live", listener);
  }

  /** Sends an alert to every subscriber, and logs it at warn. */
  alert(alert: Omit<AlertEvent, "type" | "at">): void {
    const event: AlertEvent = { type: "alert", at: this.clock(), ...alert };
    this.logger.warn(
      { alert: event.name, request_id: event.requestId ?? undefined, data: event.data },
      event.message,
    );
    this.live.emit("live", event);
  }

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

  /** True while changes wait in the outbox because the store could not be written. */
  get degraded(): boolean {
    return this.committer.degraded;
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

  private async create(input: CreateRequestInput, replayOf: string | null): Promise<Request> {
    const op = this.ops.create(input, this.origin());
    if (replayOf !== null) op.request.replayOf = replayOf;
    const result = await this.submit(op);
    if (result.ok && result.duplicate && result.created) {
      return { ...result.created, stages: [], costs: [], ...(await this.detail(op.request.id)) };
    }
    return pendingRequestView(op.request);
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

  /**
   * Sets who a request belongs to once that is known (a tenant found in the body by the
   * handler): `tenantId`, `sessionId` (null clears either) and `userId`, validated as at
   * creation and recorded in the history as a `context_set` event. Its costs and counts move
   * to the new tenant and session in stats and cost reports. Only while the request has not
   * ended (`RequestEndedError` after).
   *
   * @example
   * await tracker.setContext(req, { tenantId: body.entity_id, sessionId: body.session_id });
   */
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
    await this.budgets.stop();
    await Promise.all([...this.workers].map((worker) => worker.stop()));
    this.closed = true;
    this.stopRemoteChanges?.();
    this.stopRemoteGaps?.();
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
      wake: () => this.queue.notify(),
      withRequest: (request, fn) =>
        this.withRequest(
          request,
          fn,
          request.correlationId ? { correlationId: request.correlationId } : {},
        ),
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

  private async purge(olderThan: number): Promise<PurgeCounts> {
    await this.committer.flush();
    return this.store.purge(olderThan);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError();
  }

  /** Writes `op` through group commit and logs what it did (or why it was refused). */
  private async submit(submitted: Op): Promise<OpResult> {
    if (this.closed) throw new ClosedError();
    let op = submitted;
    let result: OpResult;
    try {
      // A cost without an amount is priced from the table before it is queued.
      if (op.type === "cost" && op.unpriced) op = await this.prices.price(op);
      // Every way in (library, REST, ingest, the remote client) creates through here.
      if (op.type === "create") this.budgets.check(op.request);
      result = await this.committer.submit(op);
    } catch (error) {
      if (op.type === "create") this.budgets.release(op.request.id);
      logRefusal(this.logger, op, error);
      throw error;
    }
    if (op.type === "create" && result.ok && !result.duplicate) this.known.remember(op.request);
    const labels = op.type === "transition" ? this.known.labelsOf(op.requestId) : undefined;
    logOutcome(this.logger, op, result, this.options.redactPrompts, labels);
    if (op.type === "create") {
      this.queue.notify();
      if (result.ok && !result.duplicate) this.budgets.created(op.request);
      else this.budgets.release(op.request.id);
    }
    if (op.type === "cost" && result.ok) this.budgets.costRecorded(op);
    if (op.type === "context" && result.ok) this.budgets.contextChanged(op);
    // An estimate is held while the request runs; its end releases what it did not spend.
    if (op.type === "transition" && result.ok && TERMINAL_STATUSES.has(op.to)) {
      this.budgets.release(op.requestId);
    }
    return result;
  }

  private origin(): OpOrigin {
    return { opId: `${this.opPrefix}:${++this.opCounter}`, at: this.clock() };
  }

  /** Reads see every write made before them; slow ones are logged. */
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
}

function idOf(ref: RequestRef): string {
  return typeof ref === "string" ? ref : (ref?.id ?? "");
}
