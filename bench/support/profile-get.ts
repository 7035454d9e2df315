/**
 * Profiles the server side of `GET /api/v1/requests/:id` only (not the seeding): seeds a
 * SQLite file the way bench/http.ts does, then records a CPU profile (node:inspector) while
 * autocannon (one worker thread) reads 1,000 ids for a few seconds.
 *
 *   node --import tsx bench/support/profile-get.ts /tmp/get.cpuprofile [seconds]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { pino } from "pino";
import { createTracker, newRequestId } from "../../src/index.js";
import { buildApp } from "../../src/server/app.js";

const out = process.argv[2] ?? "get.cpuprofile";
const seconds = Number(process.argv[3] ?? 5);
const dir = mkdtempSync(join(tmpdir(), "reqtrack-profile-get-"));
const tracker = await createTracker({
  storage: join(dir, "reqtrack.db"),
  logger: pino({ level: "silent" }),
  watchdogIntervalMs: 0,
});
try {
  const ids: string[] = [];
  for (let batch = 0; batch < 10; batch++) {
    const ops: object[] = [];
    for (let n = 0; n < 100; n++) {
      const id = newRequestId();
      ids.push(id);
      const op = (step: string) => `p_${batch}_${n}_${step}`;
      ops.push(
        { opId: op("c"), type: "create", request: { id, userId: "u", kind: "video_generation" } },
        { opId: op("s"), type: "transition", requestId: id, to: "running", workerId: "w" },
        { opId: op("ss"), type: "stage", requestId: id, stage: "script", action: "start" },
        {
          opId: op("k"),
          type: "cost",
          requestId: id,
          cost: { service: "openai", amountUsd: 0.01 },
        },
        { opId: op("sc"), type: "stage", requestId: id, stage: "script", action: "complete" },
        { opId: op("x"), type: "transition", requestId: id, to: "completed", result: { ok: 1 } },
      );
    }
    await tracker.ingest(ops);
  }
  await tracker.flush();
  const { key } = await tracker.keys.create({ role: "admin", name: "profile" });
  const app = await buildApp({ tracker, logger: false });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (typeof address !== "object" || address === null) throw new Error("no port");
  const options = {
    url: `http://127.0.0.1:${address.port}`,
    headers: { authorization: `Bearer ${key}` },
    requests: ids.map((id) => ({ method: "GET" as const, path: `/api/v1/requests/${id}` })),
    connections: 50,
    workers: 1,
  };
  await autocannon({ ...options, duration: 2 }); // warm-up
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  const result = await autocannon({ ...options, duration: seconds });
  const { profile } = await session.post("Profiler.stop");
  writeFileSync(out, JSON.stringify(profile));
  console.log(`${Math.round(result.requests.average)} req/s, non2xx ${result.non2xx}`);
  await app.close();
} finally {
  await tracker.close();
  rmSync(dir, { recursive: true, force: true });
}
