import type { Logger } from "../context/logger.js";
import type { SweepChange } from "../core/ops.js";
import type { PurgeCounts } from "../store/store.js";
import type { ResolvedOptions } from "./options.js";
import type { Queue } from "./queue.js";

const DAY_MS = 86_400_000;
/** How long applied op ids are remembered, so that a resend within it applies once. */
export const DEDUPE_WINDOW_MS = 7 * DAY_MS;

/** What one watchdog pass changed. */
export interface SweepReport {
  /** Runs past their time limit, now `timeout`. */
  timedOut: number;
  /** Expired leases put back to pending. */
  requeued: number;
  /** Expired leases with no attempts left, now `failed` ("lease expired"). */
  failed: number;
  /** Pending requests past their deadline, now `timeout`. */
  deadlinesPassed: number;
  /** Pending requests older than `staleAfterMs`, now `cancelled` ("stale"). */
  stale: number;
  /** Starved pending requests moved up one lane. */
  promoted: number;
  /** What retention removed in this pass, or null when it did not run. */
  retention: PurgeCounts | null;
  /** Op ids forgotten after the dedupe window (once a day), or null when not due. */
  prunedOps: number | null;
  changes: SweepChange[];
  /** True when the store could not be reached and nothing was swept. */
  skipped: boolean;
}

/**
 * The watchdog: leases, run timeouts, deadlines, stale requests, aging, and daily retention.
 * `sweep()` is one pass on demand; the timer runs the same pass every `watchdogIntervalMs`.
 */
export class Watchdog {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<SweepReport> | null = null;
  private lastRetentionAt: number | null = null;
  private lastPruneAt: number | null = null;

  constructor(
    private readonly queue: Queue,
    private readonly options: ResolvedOptions,
    private readonly logger: Logger,
    private readonly purge: (olderThan: number) => Promise<PurgeCounts>,
    private readonly pruneAppliedOps: (olderThan: number) => Promise<number>,
    /** Creation time of the request `offset` places below the newest (soft-deleted ones counted). */
    private readonly createdAtOfNth: (offset: number) => Promise<number | null>,
  ) {}

  start(): void {
    if (this.options.watchdogIntervalMs === 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) =>
        this.logger.error({ err: error }, "watchdog sweep failed"),
      );
    }, this.options.watchdogIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass now. Concurrent calls share the pass in progress. */
  sweep(): Promise<SweepReport> {
    this.sweeping ??= this.pass().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async pass(): Promise<SweepReport> {
    const at = this.options.clock();
    const result = await this.queue.run({
      type: "sweep",
      at,
      staleAfterMs: this.options.staleAfterMs,
      maxWaitMs: this.options.maxWaitMs,
      limit: 1000,
    });
    const report: SweepReport = {
      timedOut: 0,
      requeued: 0,
      failed: 0,
      deadlinesPassed: 0,
      stale: 0,
      promoted: 0,
      retention: null,
      prunedOps: null,
      changes: [],
      skipped: result === null,
    };
    if (result?.type === "sweep") {
      report.changes = result.result.changes;
      report.promoted = result.result.promoted;
      for (const change of report.changes) {
        if (change.reason === "timeout") report.timedOut++;
        else if (change.reason === "deadline") report.deadlinesPassed++;
        else if (change.reason === "stale") report.stale++;
        else if (change.to === "failed") report.failed++;
        else report.requeued++;
        this.logger.info(
          {
            request_id: change.requestId,
            old_status: change.from,
            new_status: change.to,
            reason: change.reason,
            attempts: change.attempts,
            error_message: change.errorMessage ?? undefined,
          },
          "status changed",
        );
      }
    }
    report.retention = mergeCounts(await this.retention(at), await this.countBound());
    report.prunedOps = await this.pruneOps(at);
    return report;
  }

  /**
   * Once a day, forget op ids older than the dedupe window (7 days): outbox replays and
   * client resends arrive within minutes or hours, and the table must not grow forever.
   */
  private async pruneOps(at: number): Promise<number | null> {
    if (this.lastPruneAt !== null && at - this.lastPruneAt < DAY_MS) return null;
    this.lastPruneAt = at;
    const pruned = await this.pruneAppliedOps(at - DEDUPE_WINDOW_MS);
    if (pruned > 0) this.logger.info({ pruned_op_ids: pruned }, "applied op ids pruned");
    return pruned;
  }

  /**
   * With `retentionMaxRequests` set, hard-deletes everything older than the newest N requests.
   * Requests created in the same millisecond as the first one past the bound go with it, so a
   * tie can leave a few fewer than N.
   */
  private async countBound(): Promise<PurgeCounts | null> {
    const max = this.options.retentionMaxRequests;
    if (max === null) return null;
    const cutoff = await this.createdAtOfNth(max);
    if (cutoff === null) return null;
    const counts = await this.purge(cutoff + 1);
    this.logger.info({ retention_max_requests: max, deleted: counts }, "retention cleanup");
    return counts;
  }

  /** With a retention period set: delete older requests once a day and log the counts. */
  private async retention(at: number): Promise<PurgeCounts | null> {
    const days = this.options.retentionDays;
    if (days === null) return null;
    if (this.lastRetentionAt !== null && at - this.lastRetentionAt < DAY_MS) return null;
    this.lastRetentionAt = at;
    const counts = await this.purge(at - days * DAY_MS);
    this.logger.info({ retention_days: days, deleted: counts }, "retention cleanup");
    return counts;
  }
}

function mergeCounts(a: PurgeCounts | null, b: PurgeCounts | null): PurgeCounts | null {
  if (!a || !b) return a ?? b;
  return {
    requests: a.requests + b.requests,
    stages: a.stages + b.stages,
    events: a.events + b.events,
    costs: a.costs + b.costs,
  };
}
