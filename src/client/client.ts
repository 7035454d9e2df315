import { type Logger, withRequestIds } from "../context/logger.js";
import { runRequest, type WithRequestOptions } from "../context/request-handle.js";
import { ClosedError, StoreUnavailableError, ValidationError } from "../core/errors.js";
import type {
  CreateRequestInput,
  ErrorInput,
  ListRequestsInput,
  AnnotateInput,
  ContextInput,
  LogEventInput,
  RecordCostInput,
  StageFailureInput,
} from "../core/schemas.js";
import type { Page, Request, RequestEvent, RequestRecord } from "../core/types.js";
import type { QueueDepth } from "../tracker/queue.js";
import type { ReplayOptions } from "../tracker/replay.js";
import { type TrackStageOptions, trackStage } from "../tracker/track-stage.js";
import type { RequestRef } from "../tracker/tracker.js";
import { HttpTransport } from "./http.js";
import { type ClientOptions, resolveClientOptions, type ResolvedClientOptions } from "./options.js";
import { type RemoteClaimOptions, RemoteReads } from "./reads.js";
import { RemoteBudgets } from "./budgets.js";
import { RemotePrices, RemoteReplays } from "./replays.js";
import type { Ack } from "./replayer.js";
import { Sender } from "./sender.js";
import { type CreatedRequest, WireBuilder, type WireOp } from "./wire.js";
import { FileWireOutbox, MemoryWireOutbox } from "./wire-outbox.js";

/**
 * The tracker's API over HTTP, for processes that report to a `reqtrack serve` elsewhere.
 * Writes are batched to `POST /api/v1/ingest`; while the server is unreachable they wait in
 * the outbox and are replayed in order when it is back, each exactly once. Reads go to the
 * REST endpoints. See docs/client.md for what is and is not guaranteed.
 *
 * @example
 * const client = createClient({ url: "http://127.0.0.1:7600", apiKey: process.env.REQTRACK_KEY });
 * const req = await client.createRequest({ userId: "user-1", kind: "video_generation" });
 * await client.startRequest(req, "worker-1");
 */
export class RemoteClient {
  /** The pino logger this client writes to; inside `withRequest` its lines carry `request_id`. */
  readonly logger: Logger;
  /** The server's base URL. */
  readonly url: string;
  private readonly ops: WireBuilder;
  private readonly sender: Sender;
  private readonly reads: RemoteReads;
  /** A request's replays, comparisons and bulk replay jobs on the server. See `replay()`. */
  readonly replays: RemoteReplays;
  /** The server's price table (an admin key changes it). */
  readonly prices: RemotePrices;
  /** Cost budgets on the server (see `tracker.budgets`). */
  readonly budgets: RemoteBudgets;
  private readonly options: ResolvedClientOptions;
  private closed = false;

  constructor(options: ResolvedClientOptions) {
    this.options = options;
    this.url = options.url;
    this.logger = withRequestIds(options.logger);
    this.ops = new WireBuilder(options.clock);
    const http = new HttpTransport({
      url: options.url,
      apiKey: options.apiKey,
      timeoutMs: options.requestTimeoutMs,
      fetch: options.fetch,
    });
    this.reads = new RemoteReads(http);
    this.replays = new RemoteReplays(http);
    this.prices = new RemotePrices(http);
    this.budgets = new RemoteBudgets(http);
    const outbox = options.outboxPath
      ? new FileWireOutbox(options.outboxPath)
      : new MemoryWireOutbox();
    if (outbox instanceof FileWireOutbox && outbox.corruptLines > 0) {
      this.logger.error(
        { set_aside: outbox.corruptLines, aside_path: outbox.asidePath },
        "outbox had unreadable lines; kept aside, not replayed",
      );
    }
    this.sender = new Sender({
      ingest: (lines) => http.ingest(lines),
      outbox,
      logger: options.logger,
      flushIntervalMs: options.flushIntervalMs,
      maxBatchOps: options.maxBatchOps,
      maxBatchBytes: options.maxBatchBytes,
      replayIntervalMs: options.replayIntervalMs,
      maxReplayIntervalMs: options.maxReplayIntervalMs,
    });
  }

  /** True while writes wait in the outbox because the server could not be reached. */
  get degraded(): boolean {
    return this.sender.degraded;
  }

  /**
   * Runs `fn` as request `ref`: inside it `currentRequest()` and `currentRequestId()` know the
   * request, and `currentRequest()` writes through this client.
   */
  withRequest<T>(ref: RequestRef, fn: () => T, options: WithRequestOptions = {}): T {
    const stored =
      typeof ref === "object" && "correlationId" in ref
        ? (ref as { correlationId?: string | null }).correlationId
        : null;
    const correlationId = options.correlationId ?? stored ?? null;
    return runRequest(
      this,
      this.ops.requestId(idOf(ref)),
      fn,
      correlationId ? { ...options, correlationId } : options,
    );
  }

  /**
   * Records a new pending request. The id is made here (unless `input.id` gives one), so the
   * request can be used at once, even while the server is down. Returns the request as the
   * input describes it (see `CreatedRequest`); when the server already had a request with a
   * caller-chosen id, the stored one instead.
   */
  async createRequest(input: CreateRequestInput): Promise<CreatedRequest> {
    this.assertOpen();
    const { op, view } = this.ops.create(input);
    const ack = await this.sender.submit(op);
    if (ack.duplicate) {
      const stored = await this.reads.getRequest(view.id).catch(() => null);
      if (stored) return stored;
    }
    return view;
  }

  /** pending -> running, on `workerId`. */
  async startRequest(ref: RequestRef, workerId?: string): Promise<void> {
    await this.write((id) => this.ops.transition(id, "running", { workerId }), ref);
  }

  /** running -> completed, keeping `result` (any JSON value). */
  async completeRequest(ref: RequestRef, result?: unknown): Promise<void> {
    await this.write((id) => this.ops.transition(id, "completed", { result }), ref);
  }

  /** running -> failed. `stage` defaults to the stage that was running. */
  async failRequest(ref: RequestRef, error: ErrorInput | string): Promise<void> {
    await this.write((id) => this.ops.transition(id, "failed", { error }), ref);
  }

  /** pending | running -> timeout, with "Generation timed out after N minutes". */
  async timeoutRequest(ref: RequestRef): Promise<void> {
    await this.write((id) => this.ops.transition(id, "timeout", {}), ref);
  }

  /** pending | running -> cancelled; `reason` is kept as the error message. */
  async cancelRequest(ref: RequestRef, reason = "cancelled"): Promise<void> {
    await this.write((id) => this.ops.transition(id, "cancelled", { reason }), ref);
  }

  /** failed | timeout -> pending, while attempts < maxAttempts. */
  async retryRequest(ref: RequestRef): Promise<void> {
    await this.write((id) => this.ops.transition(id, "pending", {}), ref);
  }

  async startStage(ref: RequestRef, stage: string): Promise<void> {
    await this.write((id) => this.ops.stage(id, stage, "start"), ref);
  }

  async completeStage(ref: RequestRef, stage: string, output?: unknown): Promise<void> {
    await this.write((id) => this.ops.stage(id, stage, "complete", { output }), ref);
  }

  async failStage(
    ref: RequestRef,
    stage: string,
    failure: StageFailureInput | string,
  ): Promise<void> {
    await this.write((id) => this.ops.stage(id, stage, "fail", { failure }), ref);
  }

  /**
   * Runs `fn` as stage `stage`: starts it, completes it with `fn`'s result as output (kept when
   * it is JSON of at most 64 KiB), or fails it (message, exception type, stack, retryable) and
   * rethrows.
   */
  async trackStage<T>(
    ref: RequestRef,
    stage: string,
    fn: () => T | Promise<T>,
    options: TrackStageOptions = {},
  ): Promise<T> {
    return trackStage(this, this.ops.requestId(idOf(ref)), stage, fn, options);
  }

  /** Appends an event to the request's history. */
  async logEvent(ref: RequestRef, event: LogEventInput): Promise<void> {
    await this.write((id) => this.ops.event(id, event), ref);
  }

  /** Adds a cost. The server stores it as integer micro-USD, so sums are exact. */
  async recordCost(ref: RequestRef, cost: RecordCostInput): Promise<void> {
    await this.write((id) => this.ops.cost(id, cost), ref);
  }

  /** Adds `by` (default 1) to a counter such as agent_calls, tool_calls or rounds. */
  async increment(ref: RequestRef, counter: string, by = 1): Promise<void> {
    await this.write((id) => this.ops.increment(id, counter, by), ref);
  }

  /** Intent, entities, tags and metadata found out after creation (see `Tracker.annotate`). */
  async annotate(ref: RequestRef, annotation: AnnotateInput): Promise<void> {
    await this.write((id) => this.ops.annotate(id, annotation), ref);
  }

  /** Who the request belongs to, once known (see `Tracker.setContext`). */
  async setContext(ref: RequestRef, context: ContextInput): Promise<void> {
    await this.write((id) => this.ops.context(id, context), ref);
  }

  /** Soft delete: hidden from lists and history, still counted in cost figures. */
  async deleteRequest(ref: RequestRef): Promise<void> {
    await this.write((id) => this.ops.delete(id), ref);
  }

  /** The request with its stages and costs, or null when unknown (or soft-deleted). */
  async getRequest(ref: RequestRef): Promise<Request | null> {
    const id = this.ops.requestId(idOf(ref));
    return this.read(() => this.reads.getRequest(id));
  }

  /**
   * Makes a new request that replays `ref` on the server (see `tracker.replay`): linked by
   * `replayOf`, budget-checked, optionally resuming from a stage. Needs the server.
   */
  async replay(ref: RequestRef, options: ReplayOptions = {}): Promise<Request> {
    const id = this.ops.requestId(idOf(ref));
    return this.read(() => this.replays.replay(id, options));
  }

  /** The processing history: status changes, stage changes and logged events, in order. */
  async getEvents(ref: RequestRef): Promise<RequestEvent[]> {
    const id = this.ops.requestId(idOf(ref));
    return this.read(() => this.reads.getEvents(id));
  }

  /** Requests matching `filter`, newest first, with the total and a cursor for the next page. */
  async listRequests(filter: ListRequestsInput = {}): Promise<Page<RequestRecord>> {
    return this.read(() => this.reads.listRequests(filter));
  }

  /** A user's requests, newest first. */
  async getUserRequests(
    userId: string,
    options: Omit<ListRequestsInput, "userId"> = {},
  ): Promise<RequestRecord[]> {
    if (typeof userId !== "string" || userId.length === 0) {
      throw new ValidationError("userId", "must not be empty");
    }
    return (await this.listRequests({ ...options, userId })).items;
  }

  /**
   * Takes the best pending request and leases it to `workerId` (the API key's tenant only);
   * null when none is waiting. Needs the server: it rejects while the server is unreachable.
   */
  async claimNext(options: RemoteClaimOptions): Promise<Request | null> {
    return this.read(() => this.reads.claimNext(options));
  }

  /** Extends the lease; false when it was lost. Rejects while the server is unreachable. */
  async heartbeat(ref: RequestRef, workerId: string): Promise<boolean> {
    const id = this.ops.requestId(idOf(ref));
    return this.read(() => this.reads.heartbeat(id, workerId));
  }

  /** Pending requests per lane, and their total. */
  async queueDepth(): Promise<QueueDepth> {
    return this.read(() => this.reads.queueDepth());
  }

  /**
   * Waits until every write made so far was acknowledged by the server, refused by it, or
   * kept in the outbox. It does not wait for the outbox to drain (see `replayOutbox()`).
   */
  async flush(): Promise<void> {
    return this.sender.flush();
  }

  /** Tries to replay the outbox now; true when it is empty afterwards. */
  async replayOutbox(): Promise<boolean> {
    await this.sender.flush();
    return this.sender.replay();
  }

  /**
   * Sends what is queued, tries to drain the outbox for up to `closeTimeoutMs`, and stops the
   * timers. Ops still in a file outbox stay there for the next client with the same path.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sender.close(this.options.closeTimeoutMs);
  }

  /** Validates now (so bad input fails even offline), then waits for the ack or the outbox. */
  private async write(build: (id: string) => WireOp, ref: RequestRef): Promise<Ack> {
    this.assertOpen();
    return this.sender.submit(build(this.ops.requestId(idOf(ref))));
  }

  /** Reads see every write made before them: pending ones are sent, the outbox replayed first. */
  private async read<T>(query: () => Promise<T>): Promise<T> {
    this.assertOpen();
    await this.sender.flush();
    if (this.sender.degraded && !(await this.sender.replay())) {
      // The replay just found the server unreachable: do not wait for a second timeout.
      const cause = this.sender.replayError;
      if (cause instanceof StoreUnavailableError) throw cause;
    }
    return query();
  }

  private assertOpen(): void {
    if (this.closed) {
      const error = new ClosedError();
      error.message = "The client is closed; create a new one with createClient()";
      throw error;
    }
  }
}

/**
 * A client for the reqtrack server at `options.url`. Nothing is sent until the first call,
 * and an unreachable server never fails creation: writes wait in the outbox.
 *
 * @example
 * const client = createClient({ url: "https://reqtrack.internal", apiKey: "rt_...", outboxPath: "data/reqtrack-client.ndjson" });
 */
export function createClient(options: ClientOptions): RemoteClient {
  return new RemoteClient(resolveClientOptions(options));
}

function idOf(ref: RequestRef): string {
  return typeof ref === "string" ? ref : (ref?.id ?? "");
}
