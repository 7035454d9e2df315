import type { Logger } from "../context/logger.js";
import { ReqtrackError, StoreUnavailableError } from "../core/errors.js";
import type { IngestResult } from "../tracker/ingest.js";
import { errorFromWire, isRetryableCode } from "./remote-errors.js";
import { type Ack, type Pending, Replayer } from "./replayer.js";
import type { WireOp } from "./wire.js";
import type { WireOutbox } from "./wire-outbox.js";

export interface SenderOptions {
  ingest: (lines: readonly string[]) => Promise<IngestResult[]>;
  outbox: WireOutbox;
  logger: Logger;
  flushIntervalMs: number;
  maxBatchOps: number;
  maxBatchBytes: number;
  replayIntervalMs: number;
  maxReplayIntervalMs: number;
}

/**
 * The write path of the remote client. Ops are queued and sent to `/api/v1/ingest` in batches
 * (every `flushIntervalMs`, or at once when `maxBatchOps` are queued), in order, one HTTP call
 * at a time. When the server cannot be reached the batch goes to the outbox (the `Replayer`)
 * and its callers are answered "accepted"; while the outbox holds anything, later batches go
 * behind it, so the server sees every op in the order it was made.
 */
export class Sender {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private draining = false;
  private wanted = false;
  /** The one lane every HTTP call and outbox change runs on. */
  private chain: Promise<unknown> = Promise.resolve();
  private submitted = 0;
  private settled = 0;
  private waiters: { target: number; resolve: () => void }[] = [];
  private readonly replayer: Replayer;

  constructor(private readonly options: SenderOptions) {
    this.replayer = new Replayer({ ...options, exclusive: (task) => this.exclusive(task) });
  }

  /** True while ops wait in the outbox for the server. */
  get degraded(): boolean {
    return this.replayer.holding;
  }

  /** Resolves once the server acknowledged `op` or it is in the outbox; rejects when refused. */
  submit(op: WireOp): Promise<Ack> {
    const line = JSON.stringify(op);
    return new Promise<Ack>((resolve, reject) => {
      const bytes = Buffer.byteLength(line) + 1;
      this.queue.push({ op, line, bytes, resolve, reject });
      this.submitted++;
      this.queuedBytes += bytes;
      if (this.full()) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.options.flushIntervalMs);
    });
  }

  /** Resolves once every op submitted so far is acknowledged, refused, or in the outbox. */
  flush(): Promise<void> {
    const target = this.submitted;
    this.kick();
    if (this.settled >= target) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ target, resolve }));
  }

  /** Why the last outbox replay failed (null once it drains). */
  get replayError(): unknown {
    return this.replayer.lastError;
  }

  /** Replays the outbox now (see `Replayer.replay`). */
  replay(deadline?: number): Promise<boolean> {
    return this.replayer.replay(deadline);
  }

  /** Flushes, tries to drain the outbox until `timeoutMs` passes, then stops every timer. */
  async close(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    await this.flush();
    if (this.degraded) await this.replayer.replay(deadline);
    this.replayer.stop();
    await this.chain;
    const left = this.options.outbox.size();
    this.options.outbox.close();
    if (left > 0) {
      this.options.logger.warn(
        { pending_ops: left },
        "closing with ops still in the outbox; a client with the same outboxPath replays them",
      );
    }
  }

  private kick(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.wanted = true;
    if (!this.draining) void this.drain();
  }

  /** Sends batches while one is due; ops that arrive meanwhile make the next batch. */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && (this.wanted || this.full())) {
        this.wanted = false;
        const batch = this.takeBatch();
        try {
          await this.exclusive(() => this.deliver(batch));
        } catch (error) {
          // A bug, not an outage: its callers hear of it (settled ones ignore this).
          for (const pending of batch) pending.reject(error);
        } finally {
          this.settle(batch.length);
        }
      }
    } finally {
      this.draining = false;
    }
    if (this.queue.length > 0) {
      this.timer ??= setTimeout(() => this.kick(), this.options.flushIntervalMs);
    }
  }

  private full(): boolean {
    return (
      this.queue.length >= this.options.maxBatchOps ||
      this.queuedBytes >= this.options.maxBatchBytes
    );
  }

  private takeBatch(): Pending[] {
    let count = 0;
    let bytes = 0;
    for (const pending of this.queue) {
      if (count >= this.options.maxBatchOps) break;
      if (count > 0 && bytes + pending.bytes > this.options.maxBatchBytes) break;
      count++;
      bytes += pending.bytes;
    }
    this.queuedBytes -= bytes;
    return this.queue.splice(0, count);
  }

  private settle(count: number): void {
    this.settled += count;
    const ready = this.waiters.filter((w) => w.target <= this.settled);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.target > this.settled);
    for (const waiter of ready) waiter.resolve();
  }

  /** Runs `task` after every HTTP call and outbox change queued before it. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Sends one batch, or puts it behind the outbox; settles every op of it. */
  private async deliver(batch: Pending[]): Promise<void> {
    if (this.degraded) {
      this.replayer.keep(batch, null);
      return;
    }
    let results: IngestResult[];
    try {
      results = await this.options.ingest(batch.map((p) => p.line));
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        this.replayer.keep(batch, error);
      } else if (isTooLarge(error) && batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await this.deliver(batch.slice(0, half));
        await this.deliver(batch.slice(half));
      } else {
        for (const pending of batch) pending.reject(error);
      }
      return;
    }
    for (const [i, pending] of batch.entries()) {
      const result = results[i];
      if (result === undefined || (!result.ok && isRetryableCode(result.error.code))) {
        // Not applied (or not answered): it and everything after it wait in the outbox.
        const cause = new StoreUnavailableError("the server could not apply the ops");
        this.replayer.keep(batch.slice(i), cause);
        return;
      }
      if (result.ok)
        pending.resolve({ ok: true, ...(result.duplicate ? { duplicate: true } : {}) });
      else pending.reject(errorFromWire(result.error, 400, pending.op.requestId));
    }
  }
}

function isTooLarge(error: unknown): boolean {
  return error instanceof ReqtrackError && error.code === "RT_ERR_PAYLOAD_TOO_LARGE";
}
