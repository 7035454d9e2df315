import type { Command } from "commander";
import { isPostgresUrl } from "../store/storage-url.js";
import type { PostgresOptions } from "../tracker/options.js";

/** What commander parses from the flags `withPostgresOptions` adds, beside `--storage`. */
export interface PostgresFlags {
  storage: string;
  schema?: string;
  maxConnections?: string;
  preparedStatements: boolean;
  listenUrl?: string;
}

/**
 * Adds the PostgreSQL flags to a command that opens a store: `--schema`, `--max-connections`,
 * `--no-prepared-statements`, `--listen-url`. Each has an environment variable too.
 */
export function withPostgresOptions(command: Command): Command {
  return command
    .option(
      "--schema <name>",
      "postgres:// only: schema for reqtrack's tables, created when missing (env REQTRACK_PG_SCHEMA)",
    )
    .option(
      "--max-connections <n>",
      "postgres:// only: pool size, default 10 (env REQTRACK_PG_MAX_CONNECTIONS)",
    )
    .option(
      "--no-prepared-statements",
      "postgres:// only: send unnamed statements, for pgbouncer in transaction mode (env REQTRACK_PG_PREPARED_STATEMENTS=false)",
    )
    .option(
      "--listen-url <url>",
      "postgres:// only: direct connection for LISTEN when the storage URL goes through pgbouncer (env REQTRACK_PG_LISTEN_URL)",
    );
}

/**
 * The tracker's `postgres` option from the flags, else the environment; createTracker checks
 * the values. A flag with a storage that is no `postgres://` URL is refused there, while the
 * `REQTRACK_PG_*` variables are only read for one: set for a deployment, they must not stop
 * a SQLite run on the same machine.
 */
export function postgresOptions(flags: PostgresFlags): PostgresOptions {
  const env = isPostgresUrl(flags.storage) ? process.env : {};
  const options: PostgresOptions = {};
  const schema = flags.schema ?? (env.REQTRACK_PG_SCHEMA || undefined);
  if (schema !== undefined) options.schema = schema;
  const maxConnections = flags.maxConnections ?? (env.REQTRACK_PG_MAX_CONNECTIONS || undefined);
  if (maxConnections !== undefined) {
    if (!/^\d+$/.test(maxConnections)) {
      throw new Error(`--max-connections must be a whole number, not ${maxConnections}`);
    }
    options.maxConnections = Number(maxConnections);
  }
  const prepared = flags.preparedStatements
    ? envFlag("REQTRACK_PG_PREPARED_STATEMENTS", env.REQTRACK_PG_PREPARED_STATEMENTS)
    : false;
  if (prepared !== undefined) options.preparedStatements = prepared;
  const listenUrl = flags.listenUrl ?? (env.REQTRACK_PG_LISTEN_URL || undefined);
  if (listenUrl !== undefined) options.listenConnectionString = listenUrl;
  return options;
}

function envFlag(name: string, value: string | undefined): boolean | undefined {
  const raw = value?.trim().toLowerCase();
  if (raw === undefined || raw === "") return undefined;
  if (["1", "true", "on", "yes"].includes(raw)) return true;
  if (["0", "false", "off", "no"].includes(raw)) return false;
  throw new Error(`${name} must be true or false, not ${value}`);
}
