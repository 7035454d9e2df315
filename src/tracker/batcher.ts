import type { AnyOp, OpResult } from "../core/ops.js";

export interface PendingOp {
  op: AnyOp;
  resolve: (result: OpResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: ops submitted during one event-loop turn are committed together by `sink`,
 * and each submitter's promise settles after that commit. Batches run one at a time, in
 * submission order, so a later op never overtakes an earlier one.
 */
export class Batcher {
  private queue: PendingOp[] = [];
  private scheduled = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: (batch: PendingOp[]) => Promise<void>,
    private readonly maxBatch = 1000,
  ) {}

  submit(op: AnyOp): Promise<OpResult> {
    return new Promise<OpResult>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.kick());
      }
    });
  }

  /** Runs `task` on the commit chain, after every batch queued before it. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    this.kick();
    const run = this.chain.then(task);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Resolves once every op submitted so far is committed (or failed). */
  flush(): Promise<void> {
    this.kick();
    return this.chain;
  }

  get idle(): boolean {
    return this.queue.length === 0;
  }

  private kick(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const queued = this.queue;
    this.queue = [];
    this.chain = this.chain.then(async () => {
      for (let i = 0; i < queued.length; i += this.maxBatch) {
        const batch = queued.slice(i, i + this.maxBatch);
        try {
          await this.sink(batch);
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    });
  }
}
