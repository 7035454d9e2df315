import type * as Pg from "pg";
import { MissingDependencyError, ValidationError } from "../../core/errors.js";

export type PgModule = typeof Pg;

let loaded: Promise<PgModule> | undefined;

/**
 * Imports `pg` on first use, so that SQLite users never load it; when it is not installed,
 * throws a `MissingDependencyError` that says what to install. (The same pattern as
 * integrations/import-optional.ts, which this layer may not import.)
 */
export function loadPg(): Promise<PgModule> {
  loaded ??= import("pg").then(
    (mod) => mod,
    (error: unknown) => {
      loaded = undefined;
      const code = (error as { code?: unknown } | null)?.code;
      if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
        throw new MissingDependencyError("pg", "The PostgreSQL store", { cause: error });
      }
      throw error;
    },
  );
  return loaded;
}

const INT8_OID = 20;

const ignoreError = (): void => {};

/**
 * Pools, and the clients they hand out, whose statements must stay unnamed. Kept beside the
 * connections rather than passed to every `Sql`, so that each `new Sql(client)` follows the
 * pool its client came from.
 */
const unnamed = new WeakSet<object>();

/**
 * A pool whose connections read BIGINT (epoch ms, micro-USD, counts) as JS numbers. The
 * parser is set on this pool only: the user's other pools keep pg's default (strings).
 *
 * With `preparedStatements: false`, `Sql` on this pool (or on a client from it) sends every
 * statement unnamed, as pgbouncer's transaction mode needs: there consecutive transactions of
 * one client may run on different server connections, which do not share named statements.
 */
export function createPool(
  pg: PgModule,
  config: Pg.PoolConfig,
  options: { preparedStatements?: boolean } = {},
): Pg.Pool {
  const getTypeParser = ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? Number
      : pg.types.getTypeParser(oid, format)) as Pg.CustomTypesConfig["getTypeParser"];
  const pool = new pg.Pool({ ...config, types: { getTypeParser } });
  // pg-pool takes its own "error" listener off a client while it is handed out. `pool.query`
  // hands a released client to the next waiter synchronously, while pg is still parsing the
  // socket's data: a backend terminated right after answering (pg_terminate_backend, a
  // failover) then sends its FATAL to a client with no listener, and the process crashed.
  // With this one the error goes nowhere; the next query on the dead client fails, and the
  // pool drops it.
  pool.on("connect", (client) => client.on("error", ignoreError));
  if (options.preparedStatements === false) {
    unnamed.add(pool);
    // The pool emits "connect" for a new client before handing it out.
    pool.on("connect", (client) => unnamed.add(client));
  }
  return pool;
}

/**
 * Creates `schema` when it is missing, then checks that the pool's connections use it: a
 * search_path in the connection string overrides the startup option that sets it, and a
 * pooler may drop that option. Writing into another schema than the one asked for would be
 * worse than failing.
 */
export async function ensureSchema(pg: PgModule, pool: Pg.Pool, schema: string): Promise<void> {
  // Looked up first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database
  // even when the schema exists, which a role given only its schema may not have.
  const exists = await pool.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
  if (exists.rowCount === 0) {
    // Two servers creating it at once: one wins, the other sees a unique violation.
    await pool
      .query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`)
      .catch((error: unknown) => {
        if ((error as { code?: unknown }).code !== "23505") throw error;
      });
  }
  const { rows } = await pool.query<{ schema: string | null }>("SELECT current_schema() AS schema");
  const actual = rows[0]?.schema ?? null;
  if (actual === schema) return;
  throw new ValidationError(
    "schema",
    `connections use schema ${actual === null ? "(none)" : JSON.stringify(actual)}, not ` +
      `${JSON.stringify(schema)}: a search_path in the connection string ` +
      "(options=-c search_path=...) overrides this option, and a pooler such as pgbouncer " +
      "may drop it. Set the schema in one place; behind a pooler, give the database role a " +
      "search_path instead (ALTER ROLE ... SET search_path).",
  );
}

/** Something that runs SQL: a pooled client inside a transaction, or the pool itself. */
export interface Queryable {
  query(config: Pg.QueryConfig): Promise<Pg.QueryResult>;
}

const names = new Map<string, string>();

/**
 * Runs SQL as a named prepared statement: each connection parses and plans a statement
 * once, then only binds values. On a pool created with `preparedStatements: false` (and its
 * clients), statements go unnamed instead: parsed and planned on every call.
 */
export class Sql {
  private readonly prepare: boolean;

  constructor(readonly db: Queryable) {
    this.prepare = !unnamed.has(db);
  }

  async rows<T>(text: string, values: unknown[] = []): Promise<T[]> {
    return (await this.db.query(this.statement(text, values))).rows as T[];
  }

  async row<T>(text: string, values: unknown[] = []): Promise<T | undefined> {
    return (await this.rows<T>(text, values))[0];
  }

  /** Runs a write; returns how many rows it changed. */
  async run(text: string, values: unknown[] = []): Promise<number> {
    return (await this.db.query(this.statement(text, values))).rowCount ?? 0;
  }

  /** Runs a statement without preparing it (transaction control, savepoints, DDL). */
  async exec(text: string): Promise<void> {
    await this.db.query({ text });
  }

  private statement(text: string, values: unknown[]): Pg.QueryConfig {
    return this.prepare ? { name: nameOf(text), text, values } : { text, values };
  }
}

function nameOf(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `reqtrack_${names.size + 1}`;
    names.set(text, name);
  }
  return name;
}
