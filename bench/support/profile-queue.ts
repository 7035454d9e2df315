/**
 * Profiles the queue the way bench/queue.ts drives it, one phase at a time: enqueue `jobs`
 * requests (1,000 concurrent callers), then drain them with `work()` at concurrency 50. Writes
 * one CPU profile (node:inspector) per phase and prints µs per job of each.
 *
 *   node --import tsx bench/support/profile-queue.ts /tmp/queue [jobs] [storage]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { createTracker } from "../../src/index.js";

const prefix = process.argv[2] ?? "queue";
const jobs = Number(process.argv[3] ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), "reqtrack-profile-queue-"));
const storage = process.argv[4] ?? join(dir, "reqtrack.db");
const tracker = await createTracker({
  storage,
  logger: pino({ level: "silent" }),
  watchdogIntervalMs: 0,
});
const session = new Session();
session.connect();
await session.post("Profiler.enable");
const profiled = async (phase: string, fn: () => Promise<void>) => {
  await session.post("Profiler.start");
  const started = performance.now();
  await fn();
  const micros = ((performance.now() - started) * 1000) / jobs;
  const { profile } = await session.post("Profiler.stop");
  writeFileSync(`${prefix}-${phase}.cpuprofile`, JSON.stringify(profile));
  console.log(`${phase}: ${micros.toFixed(1)} µs/job (${Math.round(1e6 / micros)} jobs/s)`);
};
try {
  let next = 0;
  await profiled("enqueue", async () => {
    const caller = async () => {
      while (next < jobs) {
        const n = next++;
        await tracker.createRequest({
          userId: `user-${n % 500}`,
          kind: "bench_job",
          priority: [0.9, 0.5, 0.1][n % 3],
          input: { n },
        });
      }
    };
    await Promise.all(Array.from({ length: 1000 }, () => caller()));
    await tracker.flush();
  });
  await profiled("drain", async () => {
    let handled = 0;
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    const worker = tracker.work({ concurrency: 50, pollMs: 5 }, async () => {
      if (++handled === jobs) finish();
      return null;
    });
    await done;
    await worker.stop();
    await tracker.flush();
  });
} finally {
  await tracker.close();
  rmSync(dir, { recursive: true, force: true });
}
