/**
 * Seeds a store with the dashboard/queries data set and keeps it, for runs that reuse it
 * (BENCH_DASHBOARD_DB, BENCH_DASHBOARD_SCHEMA):
 *
 *   nice -n 10 node --import tsx bench/seed-store.ts /work/bench-data/d1m.db 1000000
 *   nice -n 10 node --import tsx bench/seed-store.ts 'postgres://...?options=-c%20search_path%3Dx' 1000000
 *
 * Seeding is not a measurement: run it niced, outside the bench lock.
 */
import { openStore } from "../src/index.js";
import { seedDirect } from "./support/direct-seed.js";

const [storage, count] = process.argv.slice(2);
if (!storage || !count) throw new Error("usage: seed-store.ts <storage> <requests>");
const total = Number(count);
const store = await openStore(storage);
try {
  const existing = (await store.listRequests({ limit: 0, offset: 0 })).total;
  if (existing !== 0) throw new Error(`${storage} holds ${existing} requests already`);
  const started = performance.now();
  await seedDirect(store, total);
  process.stderr.write(
    `seeded ${total} in ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
  );
} finally {
  await store.close();
}
