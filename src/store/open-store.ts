import type { SqliteStoreOptions } from "./sqlite/sqlite-store.js";
import { PostgresStore, type PostgresStoreOptions } from "./postgres/postgres-store.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import { isPostgresUrl } from "./storage-url.js";
import type { Store } from "./store.js";

/** What `openStore` needs beyond the storage: each driver takes its part. */
export interface OpenStoreOptions {
  postgres?: Omit<PostgresStoreOptions, "connectionString">;
  sqlite?: SqliteStoreOptions;
}

/**
 * The one place a storage string picks its driver: a `postgres://` URL opens a
 * PostgresStore, anything else is a SQLite file (or ":memory:").
 */
export async function openStore(storage: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(storage)) {
    return PostgresStore.open({ ...options.postgres, connectionString: storage });
  }
  return new SqliteStore(storage, options.sqlite);
}
