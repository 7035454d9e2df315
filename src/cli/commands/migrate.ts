import type { Command } from "commander";
import { pino } from "pino";
import { createTracker } from "../../tracker/create-tracker.js";
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
    const tracker = await createTracker({
      storage: options.storage,
      postgres,
      logger: pino({ level: "warn" }),
      watchdogIntervalMs: 0,
    });
    try {
      const version = await tracker.store.schemaVersion();
      const where = postgres.schema === undefined ? "" : ` (in schema ${postgres.schema})`;
      process.stdout.write(`${tracker.store.driver} schema at version ${version}${where}\n`);
    } finally {
      await tracker.close();
    }
  });
}
