import { type AnalyticsContext, Costs, Stats } from "../analytics/stats.js";
import { type Logger, withRequestIds } from "../context/logger.js";
import { ClosedError } from "../core/errors.js";
import type { AlertEvent, LiveEvent } from "../core/live-events.js";
import type { Op, OpResult } from "../core/ops.js";
import type { CreateRequestInput } from "../core/schemas.js";
import type { Request } from "../core/types.js";
import type { PurgeCounts, Store } from "../store/store.js";
import { ApiKeys } from "./api-keys.js";
import { Budgets } from "./budgets.js";
import { Committer } from "./committer.js";
import { KnownRequests } from "./known-requests.js";
import { LiveFeed } from "./live-feed.js";
import { OpBuilder } from "./op-builder.js";
import type { ResolvedOptions } from "./options.js";
import type { Outbox } from "./outbox.js";
import { Prices } from "./prices.js";
import { Queue } from "./queue.js";
import { Replays } from "./replay.js";
import { Watchdog } from "./watchdog.js";
import type { Worker } from "./worker.js";
import { WritePath } from "./write-path.js";

/** A request as `GET /api/v1/requests/:id` shows it: with the replays made of it. */
export type RequestDetail = Request & {
  replays: { id: string; status: Request["status"]; createdAt: Date }[];
};

/**
 * What the facade stands on: the parts of a tracker (write path, live feed, queue, watchdog,
 * analytics, budgets, prices, replays) wired together, and their lifecycle (flush, close).
 * `Tracker` adds the public methods.
 */
export abstract class TrackerCore {
  readonly store: Store;
  protected readonly options: ResolvedOptions;
  /** The pino logger this tracker writes to; inside a request scope its lines carry `request_id`. */
  readonly logger: Logger;
  protected readonly clock: () => number;
  protected readonly committer: Committer;
  protected readonly writes: WritePath;
  protected closed = false;
  protected readonly queue: Queue;
  protected readonly watchdog: Watchdog;
  protected readonly workers = new Set<Worker>();
  protected readonly live: LiveFeed;
  protected readonly ops: OpBuilder;
  protected readonly known: KnownRequests;
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
    this.live = new LiveFeed({
      store,
      logger: this.logger,
      clock: options.clock,
      known: this.known,
      labelFields: options.labelFields,
      wake: () => this.queue.notify(),
    });
    this.committer = new Committer({
      store,
      outbox,
      logger: options.logger,
      onStoreError: options.onStoreError,
      replayIntervalMs: options.replayIntervalMs,
      onChanges: (changes) => this.live.publish(changes),
      wantsChanges: () => this.live.wanted,
    });
    this.queue = new Queue(this.committer, this.clock, this.logger, options.leaseMs);
    this.writes = new WritePath({
      committer: this.committer,
      budgets: this.budgets,
      prices: this.prices,
      known: this.known,
      queue: this.queue,
      logger: this.logger,
      options,
      isClosed: () => this.closed,
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
    return this.live.subscribe(listener);
  }

  /** Sends an alert to every subscriber, and logs it at warn. */
  alert(alert: Omit<AlertEvent, "type" | "at">): void {
    this.live.alert(alert);
  }

  /** True while changes wait in the outbox because the store could not be written. */
  get degraded(): boolean {
    return this.committer.degraded;
  }

  /** Waits until every change made so far is committed (or in the outbox). */
  async flush(): Promise<void> {
    return this.committer.flush();
  }

  /**
   * The store's change stamp once every change made so far is committed (see
   * `Store.changeStamp`): read it before the data it is to key, and a cached read is current
   * exactly while the stamp is the same. Null: the store keeps none, cache nothing.
   */
  async changeStamp(): Promise<string | null> {
    return this.read("change_stamp", 0, () => this.store.changeStamp());
  }

  /**
   * The request with its stages, costs and the replays made of it (oldest first), in one read
   * after the writes made before it; null when unknown or soft-deleted.
   */
  async getRequestDetail(id: string): Promise<RequestDetail | null> {
    const checked = this.ops.requestId(id);
    return this.read("get_request", 1, async () => {
      const found = await this.store.getRequest(checked);
      if (!found) return null;
      const replays = await this.store.replays.listReplays(checked);
      const refs = replays.map((r) => ({ ...r, createdAt: new Date(r.createdAt) }));
      return { ...found, replays: refs };
    });
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
    this.live.stop();
    await this.committer.close();
    await this.store.close();
  }

  protected async purge(olderThan: number): Promise<PurgeCounts> {
    await this.committer.flush();
    return this.store.purge(olderThan);
  }

  protected assertOpen(): void {
    if (this.closed) throw new ClosedError();
  }

  protected submit(op: Op): Promise<OpResult> {
    return this.writes.submit(op);
  }

  protected origin() {
    return this.writes.origin();
  }

  protected read<T>(type: string, paramCount: number, query: () => Promise<T>): Promise<T> {
    return this.writes.read(type, paramCount, query);
  }

  protected async detail(id: string): Promise<Partial<Request>> {
    const stored = await this.store.getRequest(id);
    return stored ? { stages: stored.stages, costs: stored.costs } : {};
  }
  /** Creates a request (a replay, when `replayOf` is set); see `Tracker.createRequest`. */
  protected abstract create(input: CreateRequestInput, replayOf: string | null): Promise<Request>;
}
