import type { Logger } from "../context/logger.js";
import { InvalidTransitionError, ReqtrackError, StoreUnavailableError } from "../core/errors.js";
import { canTransition } from "../core/lifecycle.js";
import type { RequestStatus } from "../core/types.js";
import { type IngestResult, MAX_INGEST_OPS } from "../tracker/ingest.js";
import { errorFromWire, isRetryableCode } from "./remote-errors.js";
import type { WireOp } from "./wire.js";
import type { WireOutbox } from "./wire-outbox.js";

/** How a write was taken: applied by the server (maybe a resend it had), or kept in the outbox. */
export type Ack = { ok: true; duplicate?: boolean; queued?: boolean };

/** A write waiting for its answer. */
export interface Pending {
  op: WireOp;
  line: string;
  bytes: number;
  resolve: (ack: Ack) => void;
  reject: (error: unknown) => void;
}

export interface ReplayerOptions {
  ingest: (lines: readonly string[]) => Promise<IngestResult[]>;
  outbox: WireOutbox;
  logger: Logger;
  maxBatchBytes: number;
  replayIntervalMs: number;
  maxReplayIntervalMs: number;
  /** The sender's single lane: every HTTP call and outbox change runs on it, one at a time. */
  exclusive: <T>(task: () => Promise<T>) => Promise<T>;
}

type Step = "done" | "more" | "failed";

const ACCEPTED: Ack = Object.freeze({ ok: true, queued: true });

/**
 * The offline half of the write path: keeps writes in the outbox while the server cannot take
 * them, and replays them in order, in chunks, on a timer that backs off while the server stays
 * away. The server skips op ids it already applied, so resending a chunk that may have landed
 * is always safe: that is what makes "nothing lost, nothing duplicated" hold.
 */
export class Replayer {
  private timer: NodeJS.Timeout | null = null;
  private delay: number;
  /** Chunk size; halved when the server finds a chunk too large. */
  private chunk = MAX_INGEST_OPS;
  /** Ops replayed since the outbox was last empty, for the "server is back" log line. */
  private replayed = 0;
  /** Status of requests as the outbox will leave them, to refuse invalid transitions offline. */
  private readonly offlineStatus = new Map<string, RequestStatus>();
  private stopped = false;
  private failure: unknown = null;

  constructor(private readonly options: ReplayerOptions) {
    this.delay = options.replayIntervalMs;
    if (options.outbox.size() > 0) {
      options.logger.warn(
        { pending_ops: options.outbox.size() },
        "outbox holds ops from an earlier run; replaying them",
      );
      this.schedule(0);
    }
  }

  /** Why the last replay attempt failed; null after one that got through. */
  get lastError(): unknown {
    return this.failure;
  }

  /** True while ops wait in the outbox. */
  get holding(): boolean {
    return this.options.outbox.size() > 0;
  }

  /** Durably appends `batch` to the outbox and answers its callers "accepted". */
  keep(batch: readonly Pending[], cause: unknown): void {
    const { outbox, logger } = this.options;
    const accepted: Pending[] = [];
    for (const pending of batch) {
      const refusal = this.checkOffline(pending.op);
      if (refusal) pending.reject(refusal);
      else accepted.push(pending);
    }
    try {
      outbox.append(accepted.map((p) => p.line));
    } catch (error) {
      logger.error({ err: error, ops: accepted.length }, "outbox append failed");
      const failure = new StoreUnavailableError(
        "Neither the reqtrack server nor the outbox could take the writes",
        { cause: error },
      );
      for (const pending of accepted) pending.reject(failure);
      return;
    }
    if (cause !== null) {
      logger.warn(
        { err: cause, ops: accepted.length, pending_ops: outbox.size() },
        "reqtrack server unavailable; writes kept in the outbox until it is back",
      );
    }
    for (const pending of accepted) pending.resolve(ACCEPTED);
    if (accepted.length > 0) this.schedule(this.delay);
  }

  /**
   * Replays now, chunk after chunk, until the outbox is empty, the server fails, or `deadline`
   * (a `performance.now()` time) passes. True when the outbox is empty afterwards.
   */
  async replay(deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    this.clearTimer();
    let step: Step = "more";
    while (step === "more" && performance.now() < deadline) {
      step = await this.options.exclusive(() => this.step());
    }
    if (step === "failed") {
      this.delay = Math.min(this.delay * 2, this.options.maxReplayIntervalMs);
      this.schedule(this.delay);
    } else if (step === "done") {
      this.delay = this.options.replayIntervalMs;
    } else {
      this.schedule(0);
    }
    return !this.holding;
  }

  /** No more timers; what is left stays in the outbox. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  /** What the library does in degraded mode: a transition the lifecycle forbids fails now. */
  private checkOffline(op: WireOp): Error | null {
    if (op.type === "create") {
      this.offlineStatus.set(op.requestId, "pending");
      return null;
    }
    if (op.type !== "transition" || op.to === undefined) return null;
    const from = this.offlineStatus.get(op.requestId);
    if (from !== undefined && !canTransition(from, op.to)) {
      return new InvalidTransitionError(from, op.to);
    }
    this.offlineStatus.set(op.requestId, op.to);
    return null;
  }

  /** Sends the oldest chunk of the outbox. */
  private async step(): Promise<Step> {
    const { outbox, logger } = this.options;
    const chunk = outbox.peek(this.chunk, this.options.maxBatchBytes);
    if (chunk.length === 0) return this.drained();
    let results: IngestResult[];
    try {
      results = await this.options.ingest(chunk);
    } catch (error) {
      if (error instanceof ReqtrackError && error.code === "RT_ERR_PAYLOAD_TOO_LARGE") {
        if (chunk.length > 1) {
          this.chunk = Math.ceil(chunk.length / 2);
          return "more";
        }
        // One op the server will never take: keeping it would block everything behind it.
        logger.error(
          { err: error, op: summary(chunk[0]) },
          "outbox op too large for the server; dropped",
        );
        outbox.ack(1);
        return outbox.size() === 0 ? this.drained() : "more";
      }
      // Unreachable, or refused as a whole (a revoked key, an old server): the ops stay.
      this.failure = error;
      const level = error instanceof StoreUnavailableError ? "warn" : "error";
      logger[level](
        { err: error, pending_ops: outbox.size() },
        "outbox replay failed; it will be retried",
      );
      return "failed";
    }
    this.failure = null;
    for (const [i, line] of chunk.entries()) {
      const answer = results[i];
      if (answer === undefined || (!answer.ok && isRetryableCode(answer.error.code))) {
        this.failure = new StoreUnavailableError("the server could not apply the ops");
        outbox.ack(i);
        return "failed";
      }
      if (!answer.ok) {
        logger.warn(
          { err: errorFromWire(answer.error, 400), op: summary(line) },
          "outbox op refused by the server on replay; dropped",
        );
      }
    }
    outbox.ack(chunk.length);
    this.replayed += chunk.length;
    return outbox.size() === 0 ? this.drained() : "more";
  }

  private drained(): Step {
    this.failure = null;
    this.offlineStatus.clear();
    this.chunk = MAX_INGEST_OPS;
    if (this.replayed > 0) {
      this.options.logger.info({ replayed_ops: this.replayed }, "outbox replayed; server is back");
    }
    this.replayed = 0;
    return "done";
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.replay().catch((error: unknown) => {
        // The outbox file itself failed (disk full, ...): say so, and try again later.
        this.options.logger.error({ err: error }, "outbox replay failed");
        this.schedule(this.options.maxReplayIntervalMs);
      });
    }, delayMs);
    // An unreachable server must not keep the process alive; close() is the way to drain.
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function summary(line: string | undefined): { type?: string; requestId?: string; opId?: string } {
  try {
    const op = JSON.parse(line ?? "null") as Partial<WireOp> | null;
    return { type: op?.type, requestId: op?.requestId, opId: op?.opId };
  } catch {
    return {};
  }
}
