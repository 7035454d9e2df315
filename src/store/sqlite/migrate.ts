import type Database from "better-sqlite3";
import { MigrationError } from "../../core/errors.js";
import type { Migration } from "../migrations/migration.js";

/**
 * Applies the migrations the database has not seen, each in its own transaction.
 * A database newer than this code is refused rather than guessed at.
 */
export function migrateSqlite(
  db: Database.Database,
  migrations: readonly Migration[],
  now: number,
) {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set(
    db
      .prepare("SELECT version FROM schema_migrations")
      .pluck()
      .all()
      .map((v) => Number(v)),
  );
  const latest = Math.max(0, ...migrations.map((m) => m.version));
  const newest = Math.max(0, ...applied);
  if (newest > latest) {
    throw new MigrationError(
      `The database is at schema version ${newest} but this reqtrack knows only up to ${latest}; upgrade reqtrack`,
    );
  }
  const record = db.prepare(
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
  );
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    try {
      db.transaction(() => {
        db.exec(migration.up);
        record.run(migration.version, migration.name, now);
      }).immediate();
    } catch (error) {
      throw new MigrationError(`Migration ${migration.version} (${migration.name}) failed`, {
        cause: error,
      });
    }
  }
}
