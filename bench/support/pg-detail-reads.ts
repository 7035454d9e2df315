/**
 * Detail reads (`tracker.getRequestDetail`, what GET /api/v1/requests/:id makes) on
 * PostgreSQL: 200 finished requests (a stage, a cost, a result each) in a fresh schema, then
 * 2,000 reads, 10 at a time, three rounds; prints µs per read (wall: 10 in flight).
 *
 *   node --import tsx bench/support/pg-detail-reads.ts [postgres://postgres@127.0.0.1/test]
 */
import pg from "pg";
import { pino } from "pino";
import { createTracker } from "../../src/index.js";

const url = process.argv[2] ?? "postgres://postgres@127.0.0.1/test";
const schema = `bench_detail_${process.pid}`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
const tracker = await createTracker({
  storage: url,
  postgres: { schema },
  logger: pino({ level: "silent" }),
  watchdogIntervalMs: 0,
});
try {
  const ids: string[] = [];
  for (let n = 0; n < 200; n++) {
    const { id } = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(id, "w");
    await tracker.startStage(id, "s");
    await tracker.recordCost(id, { service: "openai", amountUsd: 0.01 });
    await tracker.completeStage(id, "s", { a: 1 });
    await tracker.completeRequest(id, { ok: true });
    ids.push(id);
  }
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    let reads = 0;
    await Promise.all(
      Array.from({ length: 10 }, async (_, k) => {
        for (let i = k; i < 2000; i += 10) {
          await tracker.getRequestDetail(ids[i % ids.length] as string);
          reads++;
        }
      }),
    );
    const micros = ((performance.now() - started) * 1000) / reads;
    console.log(`round ${round + 1}: ${micros.toFixed(0)} µs per detail read (${reads} reads)`);
  }
} finally {
  await tracker.close();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}
