import { EventEmitter } from "node:events";
import type { Logger } from "../context/logger.js";
import { ValidationError } from "../core/errors.js";
import type { QueueOp, QueueResult } from "../core/ops.js";
import { nameSchema, parse } from "../core/schemas.js";
import type { Lane, Request } from "../core/types.js";
import type { Committer } from "./committer.js";

export interface ClaimOptions {
  workerId: string;
  /** Only these kinds. Default: any kind. */
  kinds?: string[];
  /** Default: the tracker's `leaseMs` (30 s). */
  leaseMs?: number;
  /** Only this tenant's requests. */
  tenantId?: string | null;
}

export type QueueDepth = Record<Lane, number> & { total: number };

/**
 * Claims and leases (DESIGN.md "Queue"). Claims go through the same group commit as every
 * other write, so many workers claiming in one event-loop turn share one transaction.
 */
export class Queue {
  private readonly wakeups = new EventEmitter();

  constructor(
    private readonly committer: Committer,
    private readonly clock: () => number,
    private readonly logger: Logger,
    private readonly defaultLeaseMs: number,
  ) {
    this.wakeups.setMaxListeners(0);
  }

  /** Atomically takes the best pending request (lane, deadline, age) and leases it to `workerId`. */
  async claimNext(options: ClaimOptions): Promise<Request | null> {
    const workerId = parse(nameSchema, options?.workerId, "workerId");
    const kinds =
      options.kinds === undefined
        ? null
        : options.kinds.map((kind, i) => parse(nameSchema, kind, `kinds.${i}`));
    const leaseMs = options.leaseMs ?? this.defaultLeaseMs;
    if (!Number.isInteger(leaseMs) || leaseMs <= 0) {
      throw new ValidationError("leaseMs", "must be a positive integer");
    }
    if (kinds !== null && kinds.length === 0) return null;
    const tenantId = options.tenantId ?? null;
    const result = await this.run({
      type: "claim",
      at: this.clock(),
      workerId,
      kinds,
      leaseMs,
      tenantId,
    });
    return result?.type === "claim" ? result.request : null;
  }

  /**
   * Extends the lease of a request `workerId` is running. False when the lease was lost
   * (the watchdog gave the request to someone else, or it ended): stop working on it.
   */
  async heartbeat(requestId: string, workerId: string): Promise<boolean> {
    const result = await this.run({ type: "heartbeat", at: this.clock(), requestId, workerId });
    // While the store is down nobody can take the lease away either: carry on.
    return result === null ? true : result.type === "heartbeat" && result.alive;
  }

  /** Gives a running request back to the queue without using up an attempt. */
  async release(requestId: string, workerId: string): Promise<boolean> {
    const result = await this.run({
      type: "requeue",
      at: this.clock(),
      requestId,
      workerId,
      reason: "released",
    });
    return result?.type === "requeue" && result.change !== null;
  }

  /**
   * Tells idle workers of this process that there is work, so they need not wait to poll:
   * called on every create, retry and requeue here (other servers' reach us by LISTEN).
   */
  notify(): void {
    this.wakeups.emit("work");
  }

  waitForWork(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeups.off("work", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wakeups.once("work", done);
    });
  }

  /** Runs a queue op; null when the store could not run it (queue ops are never outboxed). */
  async run(op: QueueOp): Promise<QueueResult | null> {
    const result = await this.committer.submit(op);
    if (!result.ok) throw result.error;
    if (result.unavailable) {
      this.logger.debug({ op: op.type }, "store unavailable; queue op skipped");
      return null;
    }
    const answer = result.queue ?? null;
    // A request back in the queue (released, or its lease expired) wakes idle workers too.
    if (
      (answer?.type === "requeue" && answer.change !== null) ||
      (answer?.type === "sweep" && answer.result.changes.some((c) => c.to === "pending"))
    ) {
      this.notify();
    }
    return answer;
  }
}
