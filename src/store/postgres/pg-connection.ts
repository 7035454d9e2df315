import type * as Pg from "pg";
import { MissingDependencyError } from "../../core/errors.js";

type PgModule = typeof Pg;

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

/**
 * A pool whose connections read BIGINT (epoch ms, micro-USD, counts) as JS numbers. The
 * parser is set on this pool only: the user's other pools keep pg's default (strings).
 */
export function createPool(pg: PgModule, config: Pg.PoolConfig): Pg.Pool {
  const getTypeParser = ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? Number
      : pg.types.getTypeParser(oid, format)) as Pg.CustomTypesConfig["getTypeParser"];
  return new pg.Pool({ ...config, types: { getTypeParser } });
}

/** Something that runs SQL: a pooled client inside a transaction, or the pool itself. */
export interface Queryable {
  query(config: Pg.QueryConfig): Promise<Pg.QueryResult>;
}

const names = new Map<string, string>();

/**
 * Runs SQL as a named prepared statement: each connection parses and plans a statement
 * once, then only binds values.
 */
export class Sql {
  constructor(readonly db: Queryable) {}

  async rows<T>(text: string, values: unknown[] = []): Promise<T[]> {
    return (await this.db.query({ name: nameOf(text), text, values })).rows as T[];
  }

  async row<T>(text: string, values: unknown[] = []): Promise<T | undefined> {
    return (await this.rows<T>(text, values))[0];
  }

  /** Runs a write; returns how many rows it changed. */
  async run(text: string, values: unknown[] = []): Promise<number> {
    return (await this.db.query({ name: nameOf(text), text, values })).rowCount ?? 0;
  }

  /** Runs a statement without preparing it (transaction control, savepoints, DDL). */
  async exec(text: string): Promise<void> {
    await this.db.query({ text });
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
