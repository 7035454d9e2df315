import type * as Pg from "pg";
import { MigrationError } from "../../core/errors.js";
import type { Migration } from "../migrations/migration.js";

/**
 * Applies the migrations the schema has not seen, each in its own transaction (PostgreSQL
 * DDL is transactional). Several servers may start at once: an advisory lock per schema
 * lets one migrate while the others wait, then find nothing left to do. A schema newer than
 * this code is refused rather than guessed at.
 */
export async function migratePostgres(
  pool: Pg.Pool,
  migrations: readonly Migration[],
  now: number,
): Promise<void> {
  const client = await pool.connect();
  client.on("error", () => {}); // a cut connection fails the migration query instead
  let broken: Error | undefined;
  try {
    const latest = Math.max(0, ...migrations.map((m) => m.version));
    // The first pass (null) only checks the version, so that a schema newer than this code is
    // refused even when there is nothing to apply.
    for (const migration of [null, ...migrations]) {
      await client.query("BEGIN");
      try {
        await client.query(
          "SELECT pg_advisory_xact_lock(hashtext('reqtrack.migrate:' || current_schema()))",
        );
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
        const { rows } = await client.query<{ version: number }>(
          "SELECT version FROM schema_migrations",
        );
        const applied = new Set(rows.map((row) => row.version));
        const newest = Math.max(0, ...applied);
        if (newest > latest) {
          throw new MigrationError(
            `The database is at schema version ${newest} but this reqtrack knows only up to ${latest}; upgrade reqtrack`,
          );
        }
        if (migration && !applied.has(migration.version)) {
          await client.query(migration.up);
          await client.query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            [migration.version, migration.name, now],
          );
        }
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch((rollbackError: unknown) => {
          broken = rollbackError as Error;
        });
        if (error instanceof MigrationError || !migration) throw error;
        throw new MigrationError(`Migration ${migration.version} (${migration.name}) failed`, {
          cause: error,
        });
      }
    }
  } finally {
    client.release(broken);
  }
}
