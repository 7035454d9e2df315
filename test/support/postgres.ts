import { randomBytes } from "node:crypto";
import * as net from "node:net";
import pg from "pg";
import { describe, it } from "vitest";

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

/**
 * A TCP proxy in front of the PostgreSQL of `url`, for connections that must be kept out on
 * demand: while `refuse` is true, new connections are cut at once (and counted), as when the
 * server cannot be reached. `url` is the same connection string through the proxy; `peak` is
 * the most connections it carried at once.
 */
export async function gatedProxy(url: string): Promise<{
  url: string;
  refuse: boolean;
  refused: number;
  peak: number;
  close: () => Promise<void>;
}> {
  const target = new URL(url);
  const sockets = new Set<net.Socket>();
  let carried = 0;
  const server = net.createServer((client) => {
    if (gate.refuse) {
      gate.refused++;
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    carried++;
    gate.peak = Math.max(gate.peak, carried);
    client.on("close", () => carried--);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxied = new URL(url);
  proxied.hostname = "127.0.0.1";
  proxied.port = String((server.address() as net.AddressInfo).port);
  const gate = {
    url: proxied.toString(),
    refuse: false,
    refused: 0,
    peak: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return gate;
}

const found = await findPostgres();

/**
 * `suite` as a describe block with the URL of a PostgreSQL that answers (REQTRACK_PG_URL,
 * else the local test server). When none does: a skipped block whose title says why, or,
 * with REQTRACK_REQUIRE_PG=1 (CI has a database), a failing test, so nothing passes unrun.
 */
export function describePostgres(
  title: string,
  suite: (url: string) => void,
  options: { timeout?: number } = {},
): void {
  if ("url" in found) {
    describe(title, options, () => suite(found.url));
  } else if (process.env.REQTRACK_REQUIRE_PG === "1") {
    describe(title, () => {
      it("needs a reachable PostgreSQL (REQTRACK_REQUIRE_PG=1)", () => {
        throw new Error(`PostgreSQL is unreachable: ${found.reason}`);
      });
    });
  } else {
    console.warn(`Skipping "${title}": PostgreSQL is unreachable (${found.reason})`);
    describe.skip(`${title} (skipped: PostgreSQL is unreachable: ${found.reason})`, () => {
      it("runs on PostgreSQL", () => {});
    });
  }
}
