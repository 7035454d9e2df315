import { hostname } from "node:os";
import type { Logger } from "../context/logger.js";
import { InvalidTransitionError } from "../core/errors.js";
import { jsonProblem } from "../core/json.js";
import type { Request } from "../core/types.js";

/** What `tracker.work()` needs from the tracker; kept narrow so the worker is easy to follow. */
export interface WorkerHost {
  claimNext(options: {
    workerId: string;
    kinds?: string[];
    leaseMs?: number;
  }): Promise<Request | null>;
  heartbeat(ref: string, workerId: string): Promise<boolean>;
  completeRequest(ref: string, result?: unknown): Promise<void>;
  failRequest(
    ref: string,
    error: { message: string; stage?: string; details?: unknown },
  ): Promise<void>;
  releaseRequest(ref: string, workerId: string): Promise<boolean>;
  /** Runs `fn` in the request's context scope (currentRequestId(), currentRequest()). */
  withRequest<T>(request: Request, fn: () => T): T;
  /** Ends every pending `waitForWork` now (used by `stop()`, so an idle worker stops at once). */
  wake(): void;
  /** Resolves when a request is created here, or after `ms`, whichever comes first. */
  waitForWork(ms: number): Promise<void>;
}

export interface WorkOptions {
  /** Default: `<hostname>-<pid>-<random>`. */
  workerId?: string;
  /** Only claim these kinds. Default: every kind. */
  kinds?: string[];
  /** Handlers running at once. Default 1. */
  concurrency?: number;
  /** Lease per claim; a run whose lease expires goes back to the queue. Default: the tracker's `leaseMs`. */
  leaseMs?: number;
  /** Heartbeat period. Default: a third of the lease. */
  heartbeatMs?: number;
  /** How long an idle worker waits before looking again (new local requests wake it at once). Default 1000. */
  pollMs?: number;
  /** How long `stop()` waits for running handlers before giving their requests back. Default: the tracker's `shutdownGraceMs`. */
  graceMs?: number;
}

/** Passed to every handler: `signal` aborts when the lease is lost or the worker shuts down. */
export interface WorkContext {
  workerId: string;
  signal: AbortSignal;
}

export type WorkHandler = (request: Request, context: WorkContext) => unknown;

interface Run {
  request: Request;
  controller: AbortController;
  released: boolean;
  /** The handler is done: its slot may take the next request while the result is recorded. */
  slotFreed: boolean;
  done: Promise<void>;
}

/**
 * Claims requests and runs `handler` on each, `concurrency` at a time: inside the request's
 * context scope, heartbeating its lease, then completing it with the handler's result or
 * failing it with the handler's error. Created by `tracker.work()`.
 */
export class Worker {
  readonly workerId: string;
  private readonly runs = new Map<string, Run>();
  /** Runs whose handler has not returned yet: what `concurrency` bounds. */
  private busy = 0;
  private stopping = false;
  private readonly loopDone: Promise<void>;
  private wakeSlot: (() => void) | null = null;

  constructor(
    private readonly host: WorkerHost,
    private readonly options: Required<Omit<WorkOptions, "kinds" | "workerId">> & {
      kinds?: string[];
    },
    private readonly handler: WorkHandler,
    private readonly logger: Logger,
    workerId?: string,
    private readonly onStopped: () => void = () => {},
  ) {
    this.workerId =
      workerId ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
    this.loopDone = this.loop();
  }

  /** Requests being handled right now. */
  get running(): number {
    return this.runs.size;
  }

  /**
   * Stops claiming, waits up to `graceMs` for running handlers, then gives the requests still
   * running back to the queue (released, not failed: the run does not count as an attempt).
   */
  async stop(graceMs = this.options.graceMs): Promise<void> {
    try {
      await this.drain(graceMs);
    } finally {
      this.onStopped();
    }
  }

  private async drain(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wakeSlot?.();
    this.host.wake();
    await this.loopDone;
    const all = Promise.all([...this.runs.values()].map((run) => run.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    for (const run of this.runs.values()) {
      run.released = true;
      run.controller.abort(new Error("worker shutting down"));
      const released = await this.host
        .releaseRequest(run.request.id, this.workerId)
        .catch(() => false);
      this.logger.warn(
        { request_id: run.request.id, worker_id: this.workerId, released },
        "shutdown grace period over; request given back to the queue",
      );
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const free = this.options.concurrency - this.busy;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.wakeSlot = resolve;
        });
        this.wakeSlot = null;
        continue;
      }
      // Claims made in the same turn share one transaction (group commit).
      const claims = await Promise.all(
        Array.from({ length: free }, () =>
          this.host
            .claimNext({
              workerId: this.workerId,
              kinds: this.options.kinds,
              leaseMs: this.options.leaseMs,
            })
            .catch((error: unknown) => {
              this.logger.error({ err: error, worker_id: this.workerId }, "claim failed");
              return null;
            }),
        ),
      );
      let claimed = 0;
      for (const request of claims) {
        if (request) {
          claimed++;
          this.start(request);
        }
      }
      if (claimed < free && !this.stopping) await this.host.waitForWork(this.options.pollMs);
    }
  }

  private start(request: Request): void {
    const run: Run = {
      request,
      controller: new AbortController(),
      released: false,
      slotFreed: false,
      done: Promise.resolve(),
    };
    this.runs.set(request.id, run);
    this.busy++;
    run.done = this.execute(run).finally(() => {
      this.freeSlot(run);
      this.runs.delete(request.id);
    });
  }

  /**
   * Lets the loop claim for this slot. Called as soon as the run's result is on its way, so
   * that the next claim goes out in the same batch as this completion (one transaction for
   * both on PostgreSQL) instead of a batch later.
   */
  private freeSlot(run: Run): void {
    if (run.slotFreed) return;
    run.slotFreed = true;
    this.busy--;
    this.wakeSlot?.();
  }

  private async execute(run: Run): Promise<void> {
    const { request, controller } = run;
    const heartbeat = setInterval(() => {
      void this.host.heartbeat(request.id, this.workerId).then(
        (alive) => {
          if (!alive && !controller.signal.aborted) {
            this.logger.warn({ request_id: request.id, worker_id: this.workerId }, "lease lost");
            controller.abort(new Error("lease lost"));
          }
        },
        (error: unknown) =>
          this.logger.warn({ err: error, request_id: request.id }, "heartbeat failed"),
      );
    }, this.options.heartbeatMs);
    heartbeat.unref();
    try {
      const result = await this.host.withRequest(request, () =>
        this.handler(request, { workerId: this.workerId, signal: controller.signal }),
      );
      clearInterval(heartbeat);
      if (run.released) return;
      const settled = this.settle(request.id, () =>
        this.host.completeRequest(request.id, this.storable(request.id, result)),
      );
      this.freeSlot(run);
      await settled;
    } catch (error) {
      clearInterval(heartbeat);
      if (run.released) return;
      this.freeSlot(run);
      await this.settle(request.id, () =>
        this.host.failRequest(request.id, {
          message: error instanceof Error ? error.message : String(error),
          ...(typeof (error as { stage?: unknown })?.stage === "string"
            ? { stage: (error as { stage: string }).stage }
            : {}),
          details:
            error instanceof Error
              ? { exceptionType: error.name, stack: error.stack ?? null }
              : { exceptionType: typeof error },
        }),
      );
    }
  }

  /** A refused completion means the watchdog ended the run first (timeout): no zombie write. */
  private async settle(id: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      const level = error instanceof InvalidTransitionError ? "warn" : "error";
      this.logger[level](
        { err: error, request_id: id, worker_id: this.workerId },
        "run result not recorded",
      );
    }
  }

  private storable(id: string, result: unknown): unknown {
    if (result === undefined || jsonProblem(result) === null) return result;
    this.logger.warn({ request_id: id }, "handler result is not JSON; completing without a result");
    return undefined;
  }
}
