import type { Op } from "../../src/core/ops.js";
import { type IngestOp, SqliteStore, type Store } from "../../src/index.js";
import { OpBuilder } from "../../src/tracker/op-builder.js";
import { resolveOptions } from "../../src/tracker/options.js";
import { seedLifecycles, seedProgress } from "./query-seed.js";

/**
 * Ops per `store.apply`: one transaction each. Large, so that the per-transaction costs (the
 * commit's fsync, the rollup upserts, which ops of one batch mostly share) are paid rarely;
 * small enough that a batch's ops and rollup deltas stay a few MiB.
 */
const OPS_PER_BATCH = 20_000;
/**
 * SQLite page cache while seeding (KiB). A million requests make indexes of several hundred
 * MiB: with the default 2 MiB cache every insert rereads index pages from the OS.
 */
const SEED_CACHE_KIB = 256 * 1024;

/**
 * Seeds the data set of bench/queries.ts (the same lifecycles as `seedRequests`) straight
 * through `store.apply` in large transactions: the ops are built by the tracker's own
 * OpBuilder, so they are the ops ingest would queue, and the driver's writer keeps the
 * rollups exactly as on every other path. What it skips is the per-call cost of the public
 * path (HTTP-sized ingest calls, op-id dedupe, group commits of about a thousand ops), which
 * made a million requests take half an hour. A bench tool only: no budgets, prices or live
 * subscribers see these writes.
 */
export async function seedDirect(
  store: Store,
  total: number,
  options: { opsPerBatch?: number; progress?: boolean } = {},
): Promise<void> {
  const perBatch = options.opsPerBatch ?? OPS_PER_BATCH;
  const builder = new OpBuilder(resolveOptions({}));
  const lifecycles = seedLifecycles(total);
  let done = 0;
  const bar = options.progress === false ? () => {} : seedProgress(total, () => done);
  const timer = setInterval(bar, process.stderr.isTTY ? 500 : 10_000);
  const sqlite = store instanceof SqliteStore ? store : null;
  const cacheBefore = sqlite?.db.pragma("cache_size", { simple: true }) as number | undefined;
  sqlite?.db.pragma(`cache_size = -${SEED_CACHE_KIB}`);
  try {
    while (done < total) {
      const batch: Op[] = [];
      let count = 0;
      while (done + count < total && batch.length < perBatch) {
        for (const wire of lifecycles.take()) batch.push(toOp(builder, wire));
        count++;
      }
      const results = await store.apply(batch);
      const failed = results.findIndex((r) => !r.ok);
      if (failed >= 0) {
        const result = results[failed] as { error?: Error };
        throw new Error(`the store refused op ${failed}: ${result.error?.message ?? "?"}`, {
          cause: result.error,
        });
      }
      done += count;
      // SQLite applies synchronously: let the progress timer (and anything else) run.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    // The reads measured afterwards run with the store's own settings, not the seeder's.
    if (cacheBefore !== undefined) sqlite?.db.pragma(`cache_size = ${cacheBefore}`);
    clearInterval(timer);
    if (options.progress !== false) {
      bar();
      if (process.stderr.isTTY) process.stderr.write("\n");
    }
  }
}

/** The wire op as ingest builds it (src/tracker/ingest.ts), for the op types the seed uses. */
function toOp(b: OpBuilder, wire: IngestOp): Op {
  const origin = { opId: `seed:${wire.opId}`, at: wire.at as number };
  switch (wire.type) {
    case "create":
      return b.create(wire.request, origin);
    case "transition":
      return b.transition(wire.requestId, wire.to as NonNullable<IngestOp["to"]>, wire, origin);
    case "stage":
      return b.stage(
        wire.requestId,
        wire.stage,
        wire.action as NonNullable<IngestOp["action"]>,
        wire,
        origin,
      );
    case "cost":
      return b.cost(wire.requestId, wire.cost, origin);
    default:
      throw new Error(`the seed makes no ${wire.type} ops`);
  }
}
