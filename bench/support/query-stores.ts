import { existsSync, rmSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import type pg from "pg";
import { SqliteStore, type Tracker } from "../../src/index.js";
import { type BenchSchema, connect, postgresServer } from "./postgres.js";

/**
 * The store under bench/queries.ts's tracker, as the benchmark sees it beside the public API:
 * straight SQL for the seed's shape and for the raw floor queries, and the upkeep a store
 * that has been running a while would have had.
 */
export interface QueryStore {
  /** What createTracker is given. */
  readonly storage: string;
  readonly description: string;
  /** What else shapes the figures (the server and its settings), for the results file. */
  readonly parameters: Record<string, unknown>;
  /** Goals scale by this: on PostgreSQL, twice SQLite's (issue 7). */
  readonly goalFactor: number;
  /** Trackers that seed at once: several servers can write to PostgreSQL, one to SQLite. */
  readonly seedTrackers: number;
  /** What the raw rows are, for the notes. */
  readonly rawLabel: string;
  /**
   * The rows of `sql` (written with `?` placeholders) bound to `params`, through the driver
   * with no reqtrack code in between: the floor. `rawLabel` says how statements are planned.
   */
  all(sql: string, params?: readonly unknown[]): Promise<unknown[]>;
  /** The first row of `sql`. */
  one<T>(sql: string): Promise<T>;
  hasTable(name: string): Promise<boolean>;
  /** After seeding: SQLite checkpoints its WAL, PostgreSQL vacuums and analyzes the tables. */
  settle(tracker: Tracker): Promise<void>;
  /** Bytes on disk, and how they were counted. */
  size(): Promise<{ bytes: number; what: string }>;
  close(): Promise<void>;
}

/** A SQLite file at `path`, removed on close unless `keep`. */
export function sqliteQueryStore(path: string, keep: boolean): QueryStore {
  // Opened on first use: the tracker creates the file.
  let db: Database.Database | undefined;
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    db ??= new Database(path, { readonly: true, fileMustExist: true });
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
  return {
    storage: path,
    description: "SQLite file, WAL, synchronous=NORMAL",
    parameters: {},
    goalFactor: 1,
    seedTrackers: 1,
    rawLabel: "better-sqlite3 on the same file, each statement prepared once",
    all: async (sql, params = []) => prepare(sql).all(...params),
    one: async <T>(sql: string) => prepare(sql).get() as T,
    hasTable: async (name) =>
      prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !==
      undefined,
    async settle(tracker) {
      if (!(tracker.store instanceof SqliteStore)) throw new Error("expected a SqliteStore");
      tracker.store.db.pragma("wal_checkpoint(TRUNCATE)");
    },
    async size() {
      const wal = `${path}-wal`;
      const bytes = statSync(path).size + (existsSync(wal) ? statSync(wal).size : 0);
      return { bytes, what: "store file (after a WAL checkpoint)" };
    },
    async close() {
      db?.close();
      if (keep) return;
      for (const suffix of ["", "-wal", "-shm", ".outbox.ndjson"]) {
        rmSync(`${path}${suffix}`, { force: true });
      }
    },
  };
}

/** The PostgreSQL schema `schema` (the caller makes it and drops it). */
export async function postgresQueryStore(
  baseUrl: string,
  { url }: BenchSchema,
): Promise<QueryStore> {
  const server = await postgresServer(baseUrl);
  const client = await connect(url);
  // Unnamed statements, planned for their values each time: a prepared statement's generic
  // plan guesses an average user for `user_id = $1` and reads every row of the heaviest one.
  const query = async (sql: string, params: readonly unknown[] = []) => {
    let n = 0;
    const text = sql.replaceAll("?", () => `$${++n}`);
    return (await client.query(text, [...params])).rows;
  };
  return {
    storage: url,
    description: "PostgreSQL, a fresh schema (search_path in the URL), dropped afterwards",
    parameters: { server },
    goalFactor: 2,
    // As four servers would; on a small machine the database's CPU is the limit anyway.
    seedTrackers: 4,
    rawLabel: "pg on its own connection to the same schema, each statement planned for its values",
    all: (sql, params) => query(sql, params),
    one: async <T>(sql: string) => (await query(sql))[0] as T,
    hasTable: async (name) =>
      (
        await query(
          `SELECT 1 FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_name = ?`,
          [name],
        )
      ).length > 0,
    async settle() {
      // Autovacuum would get there in its own time; the queries should not depend on when.
      await vacuumAnalyze(client);
    },
    async size() {
      const row = await query(`SELECT sum(pg_total_relation_size(c.oid)) AS bytes
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind = 'r'`);
      const bytes = Number((row[0] as { bytes: unknown }).bytes);
      return { bytes, what: "schema size (tables, indexes and TOAST, after VACUUM)" };
    },
    close: () => client.end(),
  };
}

/** VACUUM ANALYZE on every table of the current schema (a bare VACUUM takes the database). */
async function vacuumAnalyze(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT quote_ident(table_name) AS name FROM information_schema.tables
    WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
  );
  if (rows.length > 0) await client.query(`VACUUM ANALYZE ${rows.map((r) => r.name).join(", ")}`);
}
