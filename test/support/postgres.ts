import { randomBytes } from "node:crypto";
import pg from "pg";

const CANDIDATES = process.env.REQTRACK_PG_URL
  ? [process.env.REQTRACK_PG_URL]
  : ["postgres://postgres@127.0.0.1:5432/test", "postgres://root@127.0.0.1:5432/test"];

/** The first PostgreSQL that answers, or why none did. */
export async function findPostgres(): Promise<{ url: string } | { reason: string }> {
  const reasons: string[] = [];
  for (const url of CANDIDATES) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return { url };
    } catch (error) {
      // Never print a password that REQTRACK_PG_URL may carry.
      reasons.push(`${url.replace(/:[^:@/]*@/, ":***@")}: ${(error as Error).message}`);
    } finally {
      await client.end().catch(() => {});
    }
  }
  return { reason: reasons.join("; ") };
}

/** A fresh schema and a connection URL whose sessions use it; `drop()` removes it. */
export async function freshSchema(
  url: string,
): Promise<{ url: string; schema: string; drop: () => Promise<void> }> {
  const schema = `reqtrack_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const separator = url.includes("?") ? "&" : "?";
  return {
    url: `${url}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    schema,
    drop: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}
