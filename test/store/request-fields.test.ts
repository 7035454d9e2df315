import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { REQUEST_FIELDS } from "../../src/core/request-fields.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { describePostgres, freshSchema } from "../support/postgres.js";

/** A column as a migrated schema declares it, in the catalogue's terms. */
interface Declared {
  column: string;
  type: string;
  nullable: boolean;
  defaulted: boolean;
}

const PG_TYPE_NAMES: Record<string, string> = {
  text: "text",
  int4: "integer",
  int8: "bigint",
  float8: "double precision",
};

const byColumn = (a: Declared, b: Declared) => a.column.localeCompare(b.column);

function catalogue(driver: "sqlite" | "postgres"): Declared[] {
  return REQUEST_FIELDS.map((field) => ({
    column: field.column,
    type: driver === "sqlite" ? field.sqlite : (PG_TYPE_NAMES[field.postgres] ?? field.postgres),
    nullable: field.nullable,
    defaulted: field.defaulted === true,
  })).sort(byColumn);
}

describe("the request-field catalogue", () => {
  it("declares each column once", () => {
    const columns = REQUEST_FIELDS.map((field) => field.column);
    expect(new Set(columns).size).toBe(columns.length);
  });

  it("matches the freshly migrated SQLite schema: the same columns, types, nullability, defaults", () => {
    const store = new SqliteStore(":memory:");
    try {
      const info = store.db.pragma("table_info(requests)") as {
        name: string;
        type: string;
        notnull: number;
        dflt_value: string | null;
        pk: number;
      }[];
      const declared = info
        .map((c) => ({
          column: c.name,
          type: c.type,
          // A TEXT PRIMARY KEY is not NOT NULL in SQLite's table_info; ids are always given.
          nullable: c.notnull === 0 && c.pk === 0,
          defaulted: c.dflt_value !== null,
        }))
        .sort(byColumn);
      expect(declared).toEqual(catalogue("sqlite"));
    } finally {
      store.close();
    }
  });
});

describePostgres("the request-field catalogue on PostgreSQL", (url) => {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
  });

  it("matches the freshly migrated PostgreSQL schema: the same columns, types, nullability, defaults", async () => {
    const fresh = await freshSchema(url);
    drops.push(fresh.drop);
    const store = await PostgresStore.open({ connectionString: url, schema: fresh.schema });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{
        column_name: string;
        data_type: string;
        is_nullable: "YES" | "NO";
        column_default: string | null;
      }>(
        `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = 'requests'`,
        [fresh.schema],
      );
      const declared = rows
        .map((c) => ({
          column: c.column_name,
          type: c.data_type,
          nullable: c.is_nullable === "YES",
          defaulted: c.column_default !== null,
        }))
        .sort(byColumn);
      expect(declared).toEqual(catalogue("postgres"));
    } finally {
      await client.end();
      await store.close();
    }
  });
});
