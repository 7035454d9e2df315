import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { seedDirect } from "../../bench/support/direct-seed.js";
import { SEED_NOW, seedRequests } from "../../bench/support/query-seed.js";
import { createTracker, SqliteStore } from "../../src/index.js";
import { expectRollupsMatchRows, type Row, sqliteRollupDb } from "../analytics/rollup-check.js";
import { silentLogger, tempDir } from "../support/helpers.js";

const REQUESTS = 600;
const ROLLUPS = ["rollup_requests", "rollup_stages", "rollup_costs", "rollup_sessions"];

/** A table's rows without ids, sorted, so two stores seeded with other ids compare. */
function contents(store: SqliteStore, sql: string): Row[] {
  return (store.db.prepare(sql).all() as Row[])
    .map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v,
        ]),
      ),
    )
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/**
 * The dashboard bench's direct seeder (store.apply in large batches) must leave the store as
 * the public ingest path does: the same rows and, above all, the same rollups, since those are
 * what the dashboard's figures are read from.
 */
describe("direct seeder", { timeout: 120_000 }, () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  it("writes rollups that agree with its rows", async () => {
    const store = new SqliteStore(dir.file("direct.db"));
    try {
      // Small batches, so that lifecycles span transactions as they do at a million.
      await seedDirect(store, REQUESTS, { opsPerBatch: 2_000, progress: false });
      expect(store.db.prepare("SELECT count(*) FROM requests").pluck().get()).toBe(REQUESTS);
      await expectRollupsMatchRows(sqliteRollupDb(store.db));
    } finally {
      await store.close();
    }
  });

  it("leaves the same rollups and rows as seeding through tracker.ingest", async () => {
    const direct = new SqliteStore(dir.file("direct.db"));
    const ingested = new SqliteStore(dir.file("ingest.db"));
    const tracker = await createTracker({
      storage: ingested,
      logger: silentLogger(),
      clock: () => SEED_NOW + 86_400_000,
      watchdogIntervalMs: 0,
      retentionDays: null,
    });
    try {
      await seedDirect(direct, REQUESTS, { progress: false });
      await seedRequests([tracker], REQUESTS);
      for (const table of ROLLUPS) {
        const rows = contents(direct, `SELECT * FROM ${table}`);
        expect(rows.length, table).toBeGreaterThan(0);
        expect(rows, table).toEqual(contents(ingested, `SELECT * FROM ${table}`));
      }
      const requestFacts = `SELECT status, created_at, started_at, completed_at, queue_ms,
        duration_ms, cost_micros, attempts, tenant_id, kind, session_id FROM requests`;
      expect(contents(direct, requestFacts)).toEqual(contents(ingested, requestFacts));
      const perTable = `SELECT (SELECT count(*) FROM stages) AS stages,
        (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM costs) AS costs`;
      expect(contents(direct, perTable)).toEqual(contents(ingested, perTable));
    } finally {
      await tracker.close();
      await direct.close();
    }
  });
});
