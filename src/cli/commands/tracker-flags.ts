import type { Command } from "commander";
import type { Tracker } from "../../tracker/tracker.js";
import { openTracker } from "../backend.js";
import { type PostgresFlags, withPostgresOptions } from "../postgres-options.js";
import { CliError } from "../fail.js";

/** `--storage` and the PostgreSQL flags, for commands that work on a local store. */
export function withStorage(command: Command): Command {
  return withPostgresOptions(
    command.option(
      "--storage <path>",
      "SQLite file or postgres:// URL (env REQTRACK_STORAGE)",
      process.env.REQTRACK_STORAGE ?? "data/reqtrack.db",
    ),
  );
}

/** Opens the store for `fn` and closes it after, whatever happens. */
export async function withLocalTracker<T>(
  flags: PostgresFlags,
  fn: (tracker: Tracker) => Promise<T>,
  mustExist = true,
): Promise<T> {
  const tracker = await openTracker(flags, mustExist);
  try {
    return await fn(tracker);
  } finally {
    await tracker.close();
  }
}

/** A `--from`/`--to` value: ISO-8601 or epoch ms, as epoch ms. */
export function timeFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(ms))
    throw new CliError(`--${name} must be an ISO-8601 time or epoch ms, not ${value}`);
  return ms;
}

/** A USD (or other number) flag. */
export function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new CliError(`--${name} must be a number, not ${value}`);
  }
  return n;
}
