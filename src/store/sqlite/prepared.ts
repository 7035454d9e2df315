import type Database from "better-sqlite3";
import type { SqlRunner } from "../sql-runner.js";

const caches = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/**
 * The statement for `sql` on `db`, prepared once per connection and SQL text. Filters build
 * their SQL from the fields given, so the texts are few; preparing costs more than running.
 * A statement's mode (`pluck`, `raw`) sticks to it: the users of one SQL text must agree.
 */
export function prepared(db: Database.Database, sql: string): Database.Statement {
  let cache = caches.get(db);
  if (!cache) {
    cache = new Map();
    caches.set(db, cache);
  }
  let statement = cache.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement;
}

/**
 * The shared statements (see SqlRunner) on `db`: `$1`, `$2`, ... bound by number as named
 * parameters; writes go through `write` (the store's retry while another connection holds
 * the lock).
 */
export function sqliteRunner(
  db: Database.Database,
  write: <T>(work: () => T) => Promise<T>,
): SqlRunner {
  const bind = (params: unknown[] = []) => Object.fromEntries(params.map((v, i) => [i + 1, v]));
  return {
    rows: async <T>(sql: string, params?: unknown[]) => prepared(db, sql).all(bind(params)) as T[],
    run: (sql, params) => write(() => prepared(db, sql).run(bind(params)).changes),
  };
}
