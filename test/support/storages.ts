import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe } from "vitest";
import { createTracker, type TrackerOptions } from "../../src/index.js";
import { fakeClock, silentLogger } from "./helpers.js";
import { describePostgres } from "./postgres.js";

/** The part of `createTracker`'s options that says where the data lives. */
export type StorageOptions = Pick<TrackerOptions, "storage" | "postgres">;

/** A PostgreSQL URL and the schema in it. */
export type SchemaOptions = StorageOptions & { postgres: { schema: string } };

/** A storage driver a suite runs on, handing out empty databases. */
export interface TestStorage {
  readonly name: "sqlite" | "postgres";
  /** A new, empty database: ":memory:" on SQLite, a fresh schema on PostgreSQL. */
  fresh(): Promise<StorageOptions>;
  /**
   * The suite's one reusable database, emptied by every call: what property tests use, which
   * open a tracker per run (a fresh PostgreSQL schema costs ~100 ms to create and migrate).
   * Only call it when no tracker on the previous one is still open.
   */
  emptied(): Promise<StorageOptions>;
}

const sqlite: TestStorage = {
  name: "sqlite",
  fresh: () => Promise.resolve({ storage: ":memory:" }),
  emptied: () => Promise.resolve({ storage: ":memory:" }),
};

/**
 * One suite, run on every storage driver: SQLite always, PostgreSQL as `describePostgres`
 * says. Each run gets its own `TestStorage`; PostgreSQL schemas are dropped after the suite.
 *
 * @example
 * describeEachStorage("cost reports", (storage) => {
 *   it("sums costs", async () => {
 *     const tracker = await createTracker({ ...(await storage.fresh()), watchdogIntervalMs: 0 });
 *   });
 * });
 */
export function describeEachStorage(title: string, suite: (storage: TestStorage) => void): void {
  describe(`${title} [sqlite]`, () => suite(sqlite));
  // Every commit is a round trip: PostgreSQL variants get four times the default time.
  describePostgres(
    `${title} [postgres]`,
    (url) => {
      const storage = new PostgresSchemas(url);
      afterAll(() => storage.dropAll());
      suite(storage);
    },
    { timeout: 120_000 },
  );
}

/** Schemas on one PostgreSQL server, each created on demand and all dropped by `dropAll`. */
export class PostgresSchemas implements TestStorage {
  readonly name = "postgres";
  private readonly admin: pg.Pool;
  private readonly created: string[] = [];
  private reused: string | null = null;

  constructor(readonly url: string) {
    this.admin = new pg.Pool({ connectionString: url, max: 1 });
  }

  /** A new schema's name; the tracker's store creates and migrates it on open. */
  async fresh(): Promise<SchemaOptions> {
    const schema = `reqtrack_test_${randomBytes(6).toString("hex")}`;
    await this.admin.query(`CREATE SCHEMA ${schema}`);
    this.created.push(schema);
    return { storage: this.url, postgres: { schema } };
  }

  async emptied(): Promise<SchemaOptions> {
    if (this.reused === null) {
      const options = await this.fresh();
      this.reused = options.postgres.schema;
      return options;
    }
    // Every table but the migrations', so the next store finds the schema migrated and empty.
    const { rows } = await this.admin.query<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables
      WHERE schemaname = $1 AND tablename <> 'schema_migrations'`,
      [this.reused],
    );
    if (rows.length > 0) {
      const tables = rows.map((row) => `${this.reused}.${row.name}`).join(", ");
      await this.admin.query(`TRUNCATE ${tables} RESTART IDENTITY`);
    }
    return { storage: this.url, postgres: { schema: this.reused } };
  }

  async dropAll(): Promise<void> {
    for (const schema of this.created.splice(0)) {
      await this.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
    await this.admin.end();
  }
}

/**
 * A tracker on a fresh store of `storage` with a fake clock at `start` and its background
 * loops (watchdog, budget checks) off, so that a test moves time itself. Close it after.
 */
export async function clockedTracker(storage: TestStorage, start: number) {
  const time = fakeClock(start);
  const tracker = await createTracker({
    ...(await storage.fresh()),
    clock: time.clock,
    logger: silentLogger(),
    watchdogIntervalMs: 0,
    budgetIntervalMs: 0,
  });
  return { tracker, time };
}
