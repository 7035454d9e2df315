import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, it, vi } from "vitest";
import { createTracker } from "../../src/index.js";
import { captureLogger, tempDir } from "../support/helpers.js";
import { describePostgres, freshSchema } from "../support/postgres.js";

describePostgres("on PostgreSQL", (baseUrl) => {
  describe("PostgreSQL outage", () => {
    it("connections cut again and again mid-load: the tracker degrades to its outbox and replays; nothing lost, nothing twice", async () => {
      const db = await freshSchema(baseUrl);
      const dir = tempDir();
      const app = `rt_cut_${randomBytes(4).toString("hex")}`;
      const url = `${db.url}&application_name=${app}`;
      const { logger, lines } = captureLogger("warn");
      const tracker = await createTracker({
        storage: url,
        outboxPath: dir.file("outbox.ndjson"),
        replayIntervalMs: 50,
        watchdogIntervalMs: 0,
        logger,
      });
      const admin = new pg.Client({ connectionString: baseUrl });
      await admin.connect();
      try {
        let writing = true;
        let cuts = 0;
        const killer = (async () => {
          while (writing) {
            const { rowCount } = await admin.query(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
              [app],
            );
            cuts += rowCount ?? 0;
            await new Promise((resolve) => setTimeout(resolve, 40));
          }
        })();

        const ids: string[] = [];
        const lifecycle = async (n: number) => {
          const req = await tracker.createRequest({ userId: `u${n % 7}`, id: `req_cut_${n}` });
          ids.push(req.id);
          await tracker.startRequest(req, "w");
          await tracker.logEvent(req, { type: "note", message: "one" });
          await tracker.logEvent(req, { type: "note", message: "two" });
          await tracker.recordCost(req, { service: "openai", amountUsd: 0.001 });
          await tracker.completeRequest(req, { n });
        };
        for (let round = 0; round < 20; round++) {
          await Promise.all(Array.from({ length: 10 }, (_, i) => lifecycle(round * 10 + i)));
        }
        writing = false;
        await killer;
        expect(cuts).toBeGreaterThan(0);
        await vi.waitFor(async () => expect(await tracker.replayOutbox()).toBe(true), {
          timeout: 30_000,
          interval: 100,
        });
        expect(tracker.degraded).toBe(false);

        const check = await admin.query<{ status: string; n: string }>(
          `SELECT status, count(*) AS n FROM ${db.schema}.requests GROUP BY status`,
        );
        expect(check.rows).toEqual([{ status: "completed", n: "200" }]);
        const events = await admin.query<{ type: string; n: string }>(
          `SELECT type, count(*) AS n FROM ${db.schema}.events GROUP BY type ORDER BY type`,
        );
        expect(events.rows).toEqual([
          { type: "note", n: "400" },
          { type: "request_created", n: "200" },
          { type: "status_changed", n: "400" },
        ]);
        const costs = await admin.query<{ n: string; micros: string }>(
          `SELECT count(*) AS n, sum(amount_micros) AS micros FROM ${db.schema}.costs`,
        );
        expect(costs.rows).toEqual([{ n: "200", micros: "200000" }]);
        // The outage was real: some writes went through the outbox.
        expect(lines.some((l) => /degraded mode/.test(String(l.msg)))).toBe(true);
      } finally {
        await tracker.close();
        await admin.end();
        await db.drop();
        dir.cleanup();
      }
    }, 120_000);
  });
});
