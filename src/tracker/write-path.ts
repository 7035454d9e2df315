import { randomUUID } from "node:crypto";
import type { Logger } from "../context/logger.js";
import { ClosedError } from "../core/errors.js";
import type { Op, OpResult } from "../core/ops.js";
import { TERMINAL_STATUSES } from "../core/types.js";
import type { Budgets } from "./budgets.js";
import type { Committer } from "./committer.js";
import type { KnownRequests } from "./known-requests.js";
import type { OpOrigin } from "./op-builder.js";
import { logOutcome, logRefusal } from "./op-log.js";
import type { ResolvedOptions } from "./options.js";
import type { Prices } from "./prices.js";
import type { Queue } from "./queue.js";

export interface WritePathParts {
  committer: Committer;
  budgets: Budgets;
  prices: Prices;
  known: KnownRequests;
  queue: Queue;
  logger: Logger;
  options: ResolvedOptions;
  isClosed: () => boolean;
}

/**
 * Every write and read of the tracker passes here: writes are priced, budget-checked,
 * group-committed and logged; reads wait for the writes made before them and log when slow.
 */
export class WritePath {
  private readonly opPrefix = randomUUID();
  private opCounter = 0;

  constructor(private readonly parts: WritePathParts) {}

  /** Where the next op comes from: a unique op id and the clock's time. */
  origin(): OpOrigin {
    return { opId: `${this.opPrefix}:${++this.opCounter}`, at: this.parts.options.clock() };
  }

  /** Writes `op` through group commit and logs what it did (or why it was refused). */
  async submit(submitted: Op): Promise<OpResult> {
    const { committer, budgets, prices, known, queue, logger, options } = this.parts;
    if (this.parts.isClosed()) throw new ClosedError();
    let op = submitted;
    let result: OpResult;
    try {
      // A cost without an amount is priced from the table before it is queued.
      if (op.type === "cost" && op.unpriced) op = await prices.price(op);
      // Every way in (library, REST, ingest, the remote client) creates through here.
      if (op.type === "create") budgets.check(op.request);
      result = await committer.submit(op);
    } catch (error) {
      if (op.type === "create") budgets.release(op.request.id);
      logRefusal(logger, op, error);
      throw error;
    }
    if (op.type === "create" && result.ok && !result.duplicate) known.remember(op.request);
    const labels = op.type === "transition" ? known.labelsOf(op.requestId) : undefined;
    logOutcome(logger, op, result, options.redactPrompts, labels);
    if (op.type === "create") {
      queue.notify();
      if (result.ok && !result.duplicate) budgets.created(op.request);
      else budgets.release(op.request.id);
    }
    // A retry puts the request back in the queue: idle workers need not wait for their poll.
    if (op.type === "transition" && op.to === "pending" && result.ok) queue.notify();
    if (op.type === "cost" && result.ok) budgets.costRecorded(op);
    if (op.type === "context" && result.ok) budgets.contextChanged(op);
    // An estimate is held while the request runs; its end releases what it did not spend.
    if (op.type === "transition" && result.ok && TERMINAL_STATUSES.has(op.to)) {
      budgets.release(op.requestId);
    }
    return result;
  }

  /** Reads see every write made before them; slow ones are logged. */
  async read<T>(type: string, paramCount: number, query: () => Promise<T>): Promise<T> {
    const { committer, logger, options } = this.parts;
    if (this.parts.isClosed()) throw new ClosedError();
    await committer.flush();
    const started = options.clock();
    const result = await query();
    const elapsed = options.clock() - started;
    if (elapsed > options.slowQueryMs) {
      const level = elapsed > options.slowQueryMs * 5 ? "warn" : "info";
      logger[level](
        { query_type: type, param_count: paramCount, duration_ms: elapsed },
        "slow query",
      );
    }
    return result;
  }
}
