import { existsSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "commander";
import type { Tracker } from "../tracker/tracker.js";
import { CliError } from "./fail.js";
import { type PostgresFlags, postgresOptions, withPostgresOptions } from "./postgres-options.js";

/** JSON as the HTTP API answers it (times are ISO strings). */
export type Json = Record<string, unknown>;
export type Query = Record<string, string | undefined>;

/**
 * Where a command reads and writes: a local store (SQLite file or postgres:// URL) or a
 * server (`--url`). Both answer in the HTTP API's JSON shapes, so the commands print the
 * same thing either way.
 */
export interface Backend {
  list(query: Query): Promise<{ items: Json[]; total: number; nextCursor: string | null }>;
  show(id: string): Promise<Json | null>;
  events(id: string): Promise<Json[]>;
  overview(query: Query): Promise<Json>;
  costs(query: Query): Promise<Json>;
  /** Applies ingest ops (exactly once per op id); answers one result per op. */
  ingest(ops: readonly Json[]): Promise<{ ok: boolean; error?: { message: string } }[]>;
  close(): Promise<void>;
}

/** The flags of every command that reads or writes requests. */
export interface TargetFlags extends PostgresFlags {
  url?: string;
  key?: string;
}

/** Adds `--storage`, `--url`, `--key` and the PostgreSQL flags to a command. */
export function withTarget(command: Command): Command {
  return withPostgresOptions(
    command
      .option(
        "--storage <path>",
        "SQLite file or postgres:// URL (env REQTRACK_STORAGE)",
        process.env.REQTRACK_STORAGE ?? "data/reqtrack.db",
      )
      .option("--url <url>", "a reqtrack server instead of a local store (env REQTRACK_URL)")
      .option("--key <key>", "API key for --url (env REQTRACK_KEY)"),
  );
}

/**
 * Refuses a storage string that is neither a file path nor postgres:// (a `mysql://...`
 * would otherwise become a folder named `mysql:`), and, for read-only commands, a SQLite
 * file that does not exist: reading never creates a store.
 */
export function checkStorage(storage: string, options: { mustExist: boolean }): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(storage)?.[1];
  if (scheme !== undefined && !/^postgres(ql)?$/i.test(scheme)) {
    throw new CliError(
      `--storage must be a SQLite file path or a postgres:// URL, not ${scheme}://...`,
    );
  }
  if (scheme === undefined && options.mustExist && storage !== ":memory:" && !existsSync(storage)) {
    throw new CliError(`No database at ${storage} (pass --storage <file>, or --url for a server)`);
  }
}

/** Opens a tracker for a CLI command, with errors that name the path. */
export async function openTracker(flags: PostgresFlags, mustExist: boolean): Promise<Tracker> {
  checkStorage(flags.storage, { mustExist });
  const [{ createTracker }, { pino }] = await Promise.all([
    import("../tracker/create-tracker.js"),
    import("pino"),
  ]);
  try {
    return await createTracker({
      storage: flags.storage,
      postgres: postgresOptions(flags),
      logger: pino({ level: process.env.REQTRACK_LOG_LEVEL ?? "error" }),
      watchdogIntervalMs: 0,
    });
  } catch (error) {
    throw storageError(flags.storage, error);
  }
}

/**
 * The error of opening `storage`, as a CLI user should read it: naming the path, and saying
 * what a raw `EEXIST`/`ENOTDIR` from creating its folder means. Other errors pass unchanged.
 */
export function storageError(storage: string, error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (/unable to open database file/i.test(message)) {
    return new CliError(`unable to open database file ${storage}`, { cause: error });
  }
  if (code === "SQLITE_NOTADB" || /file is not a database/i.test(message)) {
    return new CliError(`cannot open ${storage}: file is not a database`, { cause: error });
  }
  if (code === "EEXIST" || code === "ENOTDIR") {
    return new CliError(
      `cannot create the folder of ${storage}: ${blockingFile(storage)} is a file, not a folder`,
      { cause: error, causeShown: false },
    );
  }
  return error;
}

/** The nearest existing ancestor folder of `path` that is not a folder (or its parent). */
function blockingFile(path: string): string {
  let dir = dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The backend for `flags`: the server of `--url` / REQTRACK_URL, else the local store. */
export async function openBackend(flags: TargetFlags, readOnly: boolean): Promise<Backend> {
  const url = flags.url ?? process.env.REQTRACK_URL;
  if (url) {
    const { RemoteBackend } = await import("./remote-backend.js");
    return new RemoteBackend(url, flags.key ?? process.env.REQTRACK_KEY);
  }
  const { LocalBackend } = await import("./local-backend.js");
  return new LocalBackend(await openTracker(flags, readOnly));
}

/** Runs `fn` with a backend and closes it after, whatever happens. */
export async function withBackend<T>(
  flags: TargetFlags,
  readOnly: boolean,
  fn: (backend: Backend) => Promise<T>,
): Promise<T> {
  const backend = await openBackend(flags, readOnly);
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}
