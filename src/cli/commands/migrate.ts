import type { Command } from "commander";
import { isPostgresUrl } from "../../store/storage-url.js";
import { openTracker } from "../backend.js";
import { type PostgresFlags, postgresOptions, withPostgresOptions } from "../postgres-options.js";

/**
 * `reqtrack migrate`: brings a database's schema up to this version of reqtrack and says
 * where it stands. Opening a store migrates it anyway; this makes it a deliberate step (run
 * it once before rolling out servers), and a database newer than this reqtrack is refused.
 */
export function registerMigrate(program: Command): void {
  const command = program
    .command("migrate")
    .description("Apply pending schema migrations and print the schema version")
    .option(
      "--storage <path>",
      "SQLite file or postgres:// URL",
      process.env.REQTRACK_STORAGE ?? "data/reqtrack.db",
    );
  withPostgresOptions(command).action(async (options: PostgresFlags) => {
    const postgres = postgresOptions(options);
    if (isPostgresUrl(options.storage) && postgres.schema === undefined) {
      process.stderr.write(
        "No --schema given: migrating into the database's default schema (public)\n",
      );
    }
    const tracker = await openTracker(options, false);
    try {
      const version = await tracker.store.schemaVersion();
      const where = postgres.schema === undefined ? "" : ` (in schema ${postgres.schema})`;
      process.stdout.write(`${tracker.store.driver} schema at version ${version}${where}\n`);
    } finally {
      await tracker.close();
    }
  });
}

export { registerMigrate as register };
