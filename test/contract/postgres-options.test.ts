import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.js";
import { POSTGRES_MIGRATIONS } from "../../src/store/migrations/postgres.js";
import { SQLITE_MIGRATIONS } from "../../src/store/migrations/sqlite.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { createTracker } from "../../src/tracker/create-tracker.js";
import type { TrackerOptions } from "../../src/tracker/options.js";
import { captureLogger, tempDir } from "../support/helpers.js";
import { describePostgres, freshSchema, gatedProxy } from "../support/postgres.js";
import { describeStoreContract } from "./store-contract.js";

/**
 * createTracker's `postgres` option (schema, pool size, unnamed statements for pgbouncer,
 * a direct LISTEN connection) and the CLI flags that set it. Validation runs everywhere; the
 * rest needs PostgreSQL, with the skip/require rules of postgres.test.ts.
 */
const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const run = promisify(execFile);

describe("the postgres option", () => {
  const pgUrl = "postgres://db.invalid/reqtrack"; // never reached: validation comes first

  it.each<[string, TrackerOptions["postgres"], string, RegExp]>([
    ["a schema name with a dash", { schema: "my-schema" }, "postgres.schema", /"my-schema"/],
    ["an empty schema name", { schema: "" }, "postgres.schema", /1 to 63/],
    ["a schema name over 63 characters", { schema: "s".repeat(64) }, "postgres.schema", /63/],
    ["a reserved pg_ schema", { schema: "pg_reqtrack" }, "postgres.schema", /pg_/],
    ["zero connections", { maxConnections: 0 }, "postgres.maxConnections", /1 or more/],
    ["a fractional pool size", { maxConnections: 2.5 }, "postgres.maxConnections", /whole/],
    [
      "preparedStatements as a string",
      { preparedStatements: "no" as never },
      "postgres.preparedStatements",
      /true or false/,
    ],
    [
      "a LISTEN URL that is no postgres:// URL",
      { listenConnectionString: "db.internal:5432" },
      "postgres.listenConnectionString",
      /postgres:\/\//,
    ],
  ])("rejects %s, naming the field", async (_name, postgres, field, message) => {
    const error = await createTracker({ storage: pgUrl, postgres }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: "RT_ERR_VALIDATION", field });
    expect((error as Error).message).toMatch(message);
  });

  it("is refused for a storage reqtrack does not open on PostgreSQL", async () => {
    await expect(
      createTracker({ storage: ":memory:", postgres: { schema: "reqtrack" } }),
    ).rejects.toMatchObject({
      field: "postgres",
      message: expect.stringMatching(/only for a postgres:\/\/ storage \(storage is ":memory:"\)/),
    });
    const store = new SqliteStore(":memory:");
    await expect(
      createTracker({ storage: store, postgres: { preparedStatements: false } }),
    ).rejects.toMatchObject({ field: "postgres" });
    await store.close();
    // Fields left undefined are no option at all.
    const tracker = await createTracker({
      storage: ":memory:",
      postgres: { schema: undefined },
      logger: captureLogger("error").logger,
    });
    await tracker.close();
  });

  it("is read from REQTRACK_PG_* only for a postgres:// storage, while a flag is always checked", async () => {
    const dir = tempDir();
    const env = {
      ...process.env,
      REQTRACK_PG_SCHEMA: "reqtrack",
      REQTRACK_PG_MAX_CONNECTIONS: "4",
    };
    try {
      const storage = dir.file("cli.db");
      const latest = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));
      const migrated = await run(
        process.execPath,
        ["--import", "tsx", cli, "migrate", "--storage", storage],
        { env },
      );
      expect(migrated.stdout.trim()).toBe(`sqlite schema at version ${latest}`);
      const refused = await run(
        process.execPath,
        ["--import", "tsx", cli, "migrate", "--storage", storage, "--schema", "reqtrack"],
        { env },
      ).catch((error: { code: number; stderr: string }) => error);
      expect(refused).toMatchObject({
        code: 1,
        stderr: expect.stringContaining("postgres: only for a postgres:// storage"),
      });
    } finally {
      dir.cleanup();
    }
  }, 30_000);
});

describePostgres("on PostgreSQL", (url) => {
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  const schemas: string[] = [];
  /** A schema name nobody created yet; dropped after the file's tests. */
  const newSchemaName = () => {
    const schema = `reqtrack_test_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    return schema;
  };
  afterAll(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });
  const logger = () => captureLogger("error").logger;

  describeStoreContract("postgres with unnamed statements (pgbouncer)", async () =>
    PostgresStore.open({
      connectionString: url,
      schema: newSchemaName(),
      maxConnections: 4,
      preparedStatements: false,
    }),
  );

  describe("PostgreSQL options", () => {
    it("writes into the schema it names (creating it), through at most maxConnections connections", async () => {
      const schema = newSchemaName();
      const proxy = await gatedProxy(url);
      const tracker = await createTracker({
        storage: proxy.url,
        postgres: { schema, maxConnections: 2 },
        logger: logger(),
        watchdogIntervalMs: 0,
      });
      try {
        const req = await tracker.createRequest({ userId: "u" });
        const reads = await Promise.all(Array.from({ length: 20 }, () => tracker.getRequest(req)));
        expect(reads.every((read) => read?.id === req.id)).toBe(true);
        const { rows } = await admin.query<{ id: string }>(`SELECT id FROM ${schema}.requests`);
        expect(rows).toEqual([{ id: req.id }]);
        // Two pooled connections and the LISTEN one.
        expect(proxy.peak).toBeLessThanOrEqual(3);
      } finally {
        await tracker.close();
        await proxy.close();
      }
    });

    it("refuses a schema that the connection string's search_path overrides, before migrating", async () => {
      const other = await freshSchema(url); // its URL sets search_path to `other.schema`
      try {
        const schema = newSchemaName();
        const error = await createTracker({
          storage: other.url,
          postgres: { schema },
          logger: logger(),
        }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect(error).toMatchObject({ field: "schema" });
        expect((error as Error).message).toContain(
          `connections use schema "${other.schema}", not "${schema}"`,
        );
        const { rows } = await admin.query<{ table: string | null }>(
          "SELECT to_regclass($1)::text AS table",
          [`${other.schema}.requests`],
        );
        expect(rows).toEqual([{ table: null }]);
      } finally {
        await other.drop();
      }
    });

    /**
     * Runs a request's whole life through a tracker while a trigger, running in the
     * tracker's own sessions, records how many prepared statements each session holds.
     */
    async function preparedStatementsSeen(preparedStatements: boolean | undefined) {
      const schema = newSchemaName();
      const tracker = await createTracker({
        storage: url ?? "",
        postgres: { schema, ...(preparedStatements === undefined ? {} : { preparedStatements }) },
        logger: logger(),
        watchdogIntervalMs: 0,
      });
      try {
        await admin.query(`CREATE TABLE ${schema}.probe (prepared INTEGER NOT NULL)`);
        await admin.query(`CREATE FUNCTION ${schema}.probe() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            INSERT INTO ${schema}.probe SELECT count(*) FROM pg_prepared_statements;
            RETURN NULL;
          END $$`);
        await admin.query(`CREATE TRIGGER probe AFTER INSERT OR UPDATE ON ${schema}.requests
          FOR EACH ROW EXECUTE FUNCTION ${schema}.probe()`);

        const req = await tracker.createRequest({ userId: "u", kind: "video" });
        expect((await tracker.claimNext({ workerId: "w" }))?.id).toBe(req.id);
        await tracker.trackStage(req, "render", () => ({ frames: 24 }));
        await tracker.logEvent(req, { type: "note", message: "halfway" });
        await tracker.recordCost(req, { service: "veo", amountUsd: 0.25 });
        await tracker.completeRequest(req, { ok: true });
        const done = await tracker.getRequest(req);
        expect(done).toMatchObject({ status: "completed", costUsd: 0.25 });
        expect(done?.stages.map((stage) => stage.status)).toEqual(["completed"]);
        const { rows } = await admin.query<{ writes: number; most: number }>(
          `SELECT count(*)::int AS writes, max(prepared)::int AS most FROM ${schema}.probe`,
        );
        return rows[0];
      } finally {
        await tracker.close();
      }
    }

    it("with preparedStatements: false, prepares no statement in its sessions, and works all the same", async () => {
      const unnamed = await preparedStatementsSeen(false);
      expect(unnamed?.writes).toBeGreaterThanOrEqual(3);
      expect(unnamed?.most).toBe(0);
      // The probe sees them when statements are prepared (the default).
      const named = await preparedStatementsSeen(undefined);
      expect(named?.writes).toBe(unnamed?.writes);
      expect(named?.most).toBeGreaterThan(0);
    });

    it("reqtrack migrate without --schema says it writes into public, and does (in a database made for it)", async () => {
      // Its own database, so the reqtrack tables it leaves in `public` go with it.
      const database = `reqtrack_test_${randomBytes(6).toString("hex")}`;
      await admin.query(`CREATE DATABASE ${database}`);
      const fresh = new URL(url);
      fresh.pathname = `/${database}`;
      try {
        const env = { ...process.env };
        delete env.REQTRACK_PG_SCHEMA;
        const latest = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));
        const migrated = await run(
          process.execPath,
          ["--import", "tsx", cli, "migrate", "--storage", fresh.toString()],
          { env },
        );
        expect(migrated.stderr).toContain(
          "No --schema given: migrating into the database's default schema (public)",
        );
        expect(migrated.stdout.trim()).toBe(`postgres schema at version ${latest}`);
        const client = new pg.Client({ connectionString: fresh.toString() });
        await client.connect();
        try {
          const { rows } = await client.query<{ schemaname: string }>(
            "SELECT DISTINCT schemaname FROM pg_tables WHERE tablename = 'requests'",
          );
          expect(rows).toEqual([{ schemaname: "public" }]);
        } finally {
          await client.end();
        }
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      }
    }, 30_000);

    it("reqtrack migrate and keys take --schema (or REQTRACK_PG_SCHEMA) and --no-prepared-statements", async () => {
      const schema = newSchemaName();
      const latest = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));
      const migrated = await run(process.execPath, [
        "--import",
        "tsx",
        cli,
        "migrate",
        "--storage",
        url,
        "--schema",
        schema,
      ]);
      expect(migrated.stdout.trim()).toBe(
        `postgres schema at version ${latest} (in schema ${schema})`,
      );
      const created = await run(
        process.execPath,
        [
          "--import",
          "tsx",
          cli,
          "keys",
          "create",
          "--role",
          "admin",
          "--json",
          "--storage",
          url,
          "--no-prepared-statements",
        ],
        { env: { ...process.env, REQTRACK_PG_SCHEMA: schema } },
      );
      const key = JSON.parse(created.stdout) as { id: string };
      const { rows } = await admin.query(`SELECT id FROM ${schema}.api_keys`);
      expect(rows).toEqual([{ id: key.id }]);

      const refused = await run(process.execPath, [
        "--import",
        "tsx",
        cli,
        "migrate",
        "--storage",
        url,
        "--schema",
        "my-schema",
      ]).catch((error: { code: number; stderr: string }) => error);
      expect(refused).toMatchObject({
        code: 1,
        stderr: expect.stringContaining('postgres.schema: "my-schema" is not a schema name'),
      });
    }, 30_000);
  });
});
