import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { captureLogger } from "../support/helpers.js";
import { describePostgres, freshSchema } from "../support/postgres.js";

const run = promisify(execFile);
const claimer = fileURLToPath(new URL("../fixtures/claimer.ts", import.meta.url));

describePostgres("on PostgreSQL", (baseUrl) => {
  describe("PostgreSQL across processes", () => {
    it("four worker processes claim 20,000 requests, each exactly once", async () => {
      const db = await freshSchema(baseUrl);
      try {
        const seeder = await createTracker({
          storage: db.url,
          logger: captureLogger("warn").logger,
          watchdogIntervalMs: 0,
        });
        const ids: string[] = [];
        for (let chunk = 0; chunk < 20; chunk++) {
          const ops = Array.from({ length: 1000 }, (_, i) => {
            const n = chunk * 1000 + i;
            return {
              opId: `seed-${n}`,
              type: "create",
              request: {
                userId: `u${n % 97}`,
                id: `req_pg_${n}`,
                priority: [0.1, 0.5, 0.9][n % 3],
              },
            };
          });
          const results = await seeder.ingest(ops);
          expect(results.every((r) => r.ok)).toBe(true);
          ids.push(...ops.map((op) => op.request.id));
        }
        await seeder.close();

        const outputs = await Promise.all(
          [0, 1, 2, 3].map(() =>
            run(process.execPath, ["--import", "tsx", claimer, db.url, "drain", "8"], {
              maxBuffer: 64 * 1024 * 1024,
            }),
          ),
        );
        const perProcess = outputs.map(({ stdout }) => JSON.parse(stdout.trim()) as string[]);
        const claimed = perProcess.flat();
        expect(claimed).toHaveLength(20_000);
        expect(new Set(claimed)).toEqual(new Set(ids));
        for (const share of perProcess) expect(share.length).toBeGreaterThan(0);

        const check = await createTracker({
          storage: db.url,
          logger: captureLogger("warn").logger,
          watchdogIntervalMs: 0,
        });
        expect(await check.queueDepth()).toMatchObject({ total: 0 });
        expect((await check.listRequests({ status: "running", limit: 1 })).total).toBe(20_000);
        await check.close();
      } finally {
        await db.drop();
      }
    }, 300_000);
  });
});
