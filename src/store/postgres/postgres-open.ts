import { randomUUID } from "node:crypto";
import type * as Pg from "pg";
import type { ChangeEvent } from "../../core/ops.js";
import { POSTGRES_MIGRATIONS } from "../migrations/postgres.js";
import type { RemoteGap } from "../store.js";
import { createPool, ensureSchema, loadPg, type PgModule } from "./pg-connection.js";
import { migratePostgres } from "./postgres-migrate.js";
import { ChangeListener } from "./postgres-notify.js";

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database`; libpq's PG* variables fill in the rest. */
  connectionString?: string;
  /**
   * Schema for reqtrack's tables (the connections' search_path), created when missing.
   * Default: the server's search_path (usually "public").
   */
  schema?: string;
  /** Most pooled connections this store opens (the LISTEN connection comes on top). Default 10. */
  maxConnections?: number;
  /**
   * false: send every statement unnamed instead of as a named prepared statement, for
   * pgbouncer in transaction mode before 1.21 (or without `max_prepared_statements`), where
   * named statements fail. Each statement is then planned on every call. Default true.
   */
  preparedStatements?: boolean;
  /**
   * Where the LISTEN connection goes when it must not take `connectionString`'s way: a direct
   * connection to PostgreSQL when the pool goes through pgbouncer in transaction mode, which
   * cannot carry LISTEN. Default: `connectionString`.
   */
  listenConnectionString?: string;
  /** Clock for migration bookkeeping and the times of LISTEN gaps (`onRemoteGap`). */
  now?: () => number;
  /**
   * Publish every committed change with NOTIFY and LISTEN for other servers' changes
   * (`onRemoteChanges`, `onRemoteGap`), on one extra connection outside the pool. Default true.
   */
  notify?: boolean;
}

export { isPostgresUrl } from "../storage-url.js";

/** Connects a pool, creates the schema when missing and brings it up to date. */
export async function openPool(
  options: PostgresStoreOptions,
): Promise<{ pg: PgModule; pool: Pg.Pool }> {
  const pg = await loadPg();
  const config: Pg.PoolConfig = { max: options.maxConnections ?? 10 };
  if (options.connectionString !== undefined) config.connectionString = options.connectionString;
  if (options.schema !== undefined) {
    config.options = `-c search_path=${pg.escapeIdentifier(options.schema)}`;
  }
  const pool = createPool(pg, config, { preparedStatements: options.preparedStatements ?? true });
  // An idle connection that dies (server restart) must not crash the process; the next
  // query gets a fresh connection or reports the store unavailable.
  pool.on("error", () => {});
  try {
    if (options.schema !== undefined) await ensureSchema(pg, pool, options.schema);
    await migratePostgres(pool, POSTGRES_MIGRATIONS, (options.now ?? Date.now)());
  } catch (error) {
    await pool.end();
    throw error;
  }
  return { pg, pool };
}

/** The LISTEN side of a store: other servers' changes and gaps, to the store's listeners. */
export class RemoteChanges {
  /** This store instance, so that it does not hear its own notifications. */
  readonly origin = randomUUID();
  private readonly changeListeners = new Set<(changes: ChangeEvent[]) => void>();
  private readonly gapListeners = new Set<(gap: RemoteGap) => void>();
  private listener: ChangeListener | null = null;

  onChanges(listener: (changes: ChangeEvent[]) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  onGap(listener: (gap: RemoteGap) => void): () => void {
    this.gapListeners.add(listener);
    return () => this.gapListeners.delete(listener);
  }

  /** Opens the LISTEN connection on `channel`, outside the pool. */
  async listen(pg: PgModule, options: PostgresStoreOptions, channel: string): Promise<void> {
    const listenConfig: Pg.ClientConfig = { keepAlive: true };
    const listenUrl = options.listenConnectionString ?? options.connectionString;
    if (listenUrl !== undefined) listenConfig.connectionString = listenUrl;
    // A failing listener must not break the LISTEN connection or the other listeners.
    const callEach = <T>(listeners: Set<(value: T) => void>, value: T) => {
      for (const listener of listeners) {
        try {
          listener(value);
        } catch {
          // see above
        }
      }
    };
    this.listener = new ChangeListener({
      pg,
      config: listenConfig,
      channel,
      origin: this.origin,
      now: options.now ?? Date.now,
      deliver: (changes) => callEach(this.changeListeners, changes),
      onGap: (gap) => callEach(this.gapListeners, gap),
    });
    // Listening before open() returns: a change committed afterwards is heard. When it
    // cannot connect now, it keeps retrying in the background.
    await this.listener.start();
  }

  async close(): Promise<void> {
    this.changeListeners.clear();
    this.gapListeners.clear();
    await this.listener?.close();
  }
}
