import { randomBytes } from "node:crypto";
import pg from "pg";
import { expect, it, vi } from "vitest";
import { createClient } from "../../src/client/index.js";
import { captureLogger, tempDir } from "../support/helpers.js";
import { describePostgres, freshSchema } from "../support/postgres.js";
import { startServer, type TestServer } from "../client/server.js";
import { expectWrittenOnce, lifecycleLoad } from "./support/lifecycle-load.js";
import { report, sized } from "./support/size.js";

/**
 * The remote client writing through a server on PostgreSQL while the server's backends are
 * terminated again and again (the server degrades to its outbox), and while the server
 * itself is down for a while (the client degrades to its own): no call fails, and afterwards
 * every write is in PostgreSQL exactly once. test/contract/postgres-outage.test.ts does the
 * same for the library alone.
 */
describePostgres("PostgreSQL outage under the remote client", (baseUrl) => {
  it(
    "backends terminated under the server, then the server offline: no call fails, everything lands once",
    async () => {
      const db = await freshSchema(baseUrl);
      const dir = tempDir();
      const app = `rt_rel_${randomBytes(4).toString("hex")}`;
      const storage = `${db.url}&application_name=${app}`;
      const admin = new pg.Client({ connectionString: baseUrl });
      await admin.connect();
      let server: TestServer = await startServer(storage);
      const client = createClient({
        url: server.url,
        apiKey: server.adminKey as string,
        outboxPath: dir.file("client-outbox.ndjson"),
        flushIntervalMs: 5,
        replayIntervalMs: 20,
        maxReplayIntervalMs: 100,
        logger: captureLogger("error").logger,
      });
      let cutting = true;
      let cuts = 0;
      try {
        const load = lifecycleLoad(client, 6);
        const killer = (async () => {
          while (cutting) {
            const { rowCount } = await admin.query(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
              [app],
            );
            cuts += rowCount ?? 0;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })();
        await new Promise((resolve) => setTimeout(resolve, sized(1500, 10_000)));
        cutting = false;
        await killer;
        // The server goes away (the client keeps writing into its outbox), then comes back.
        const port = server.port;
        await server.stop();
        const offline = load.ids.length;
        await new Promise((resolve) => setTimeout(resolve, sized(500, 10_000)));
        const madeOffline = load.ids.length - offline;
        server = await startServer(storage, port);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await load.stop();
        await client.flush();
        await vi.waitFor(() => expect(client.degraded).toBe(false), { timeout: 30_000 });
        await vi.waitFor(async () => expect(await server.tracker.replayOutbox()).toBe(true), {
          timeout: 30_000,
        });
        report("postgres outage via remote client", {
          cuts,
          lifecycles: load.ids.length,
          madeOffline,
          failures: load.failures.length,
        });
        expect(load.failures).toEqual([]);
        expect(cuts).toBeGreaterThan(0);
        expect(madeOffline).toBeGreaterThan(0);
        await expectWrittenOnce(server.tracker, load.ids);
      } finally {
        cutting = false;
        await client.close();
        await server.stop();
        await admin.end();
        await db.drop();
        dir.cleanup();
      }
    },
    sized(90_000, 300_000),
  );
});
