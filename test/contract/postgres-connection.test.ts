import pg from "pg";
import { expect, it } from "vitest";
import { createPool, loadPg } from "../../src/store/postgres/pg-connection.js";
import { describePostgres } from "../support/postgres.js";

describePostgres("a connection of the store's pool killed while it is handed out", (url) => {
  // pg-pool takes its own "error" listener off a client while the client is out. pool.query
  // hands a released client to the next waiter synchronously, before pg has finished the
  // socket's data, so a backend terminated right after answering sent its FATAL to a client
  // that had no listener: an uncaught exception that took the process down (seen in CI in
  // the PostgreSQL outage test). Here the client is out and idle when its backend dies.
  it("emits its FATAL to a listener, not as an uncaught exception, and the pool goes on", async () => {
    const pool = createPool(await loadPg(), { connectionString: url, max: 1 });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const client = await pool.connect();
      expect(client.listenerCount("error")).toBeGreaterThan(0);
      const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const ended = new Promise((resolve) => client.once("end", resolve));
      await admin.query("SELECT pg_terminate_backend($1)", [rows[0]?.pid]);
      await ended;
      await expect(client.query("SELECT 1")).rejects.toThrow();
      client.release(new Error("its backend was terminated"));

      const again = await pool.query<{ one: number }>("SELECT 1 AS one");
      expect(again.rows).toEqual([{ one: 1 }]);
    } finally {
      await admin.end();
      await pool.end();
    }
  });
});
