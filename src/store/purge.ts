import type { PurgeCounts } from "./store.js";

/**
 * What a purge deletes for a batch of request ids: the children first, the requests last,
 * and which count each table adds to. Each driver runs one DELETE per entry, in this order,
 * in the batch's transaction, after its rollups forgot the batch's requests.
 */
export const PURGED_TABLES: readonly {
  table: string;
  column: string;
  count?: keyof PurgeCounts;
}[] = [
  { table: "stages", column: "request_id", count: "stages" },
  { table: "events", column: "request_id", count: "events" },
  { table: "costs", column: "request_id", count: "costs" },
  { table: "request_tags", column: "request_id" },
  { table: "requests", column: "id", count: "requests" },
];

export type PurgedTable = (typeof PURGED_TABLES)[number];

/** No rows removed yet. */
export const noneRemoved = (): PurgeCounts => ({ requests: 0, stages: 0, events: 0, costs: 0 });

/** Adds `removed` rows of `table` to the counts it belongs to. */
export function countRemoved(counts: PurgeCounts, table: PurgedTable, removed: number): void {
  if (table.count) counts[table.count] += removed;
}

/**
 * Purges in batches of `batchSize` until a batch comes back short: `batch` removes one
 * batch's requests and their rows in one transaction and says how many ids it took.
 */
export async function purgeInBatches(
  batchSize: number,
  batch: () => Promise<{ ids: number; counts: PurgeCounts }>,
): Promise<PurgeCounts> {
  const total = noneRemoved();
  for (;;) {
    const { ids, counts } = await batch();
    total.requests += counts.requests;
    total.stages += counts.stages;
    total.events += counts.events;
    total.costs += counts.costs;
    if (ids < batchSize) return total;
  }
}
