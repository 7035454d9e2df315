/**
 * A/B of middleware-server variants in one run: autocannon against each variant in turn
 * (order rotating per round, a fresh SQLite file and server process per run), the same load
 * as bench/middleware.ts. Prints req/s and p99 per run and the median per variant; writes
 * nothing. Run it under the bench lock:
 *
 *   flock /tmp/bench.lock node --import tsx bench/support/middleware-ab.ts tracked checked
 *   BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=50 ... middleware-ab.ts bare tracked
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { envPositiveInt, median } from "./harness.js";

const SERVER = fileURLToPath(new URL("./middleware-server.ts", import.meta.url));
const variants = process.argv.slice(2);
if (variants.length < 2) throw new Error("name at least two variants: bare noop tracked checked");
const seconds = envPositiveInt("BENCH_SECONDS", 5);
const rounds = envPositiveInt("BENCH_ROUNDS", 3);
const connections = envPositiveInt("BENCH_CONNECTIONS", 50);
const rate = envPositiveInt("BENCH_RATE", 1_000);

async function measure(variant: string, file: string) {
  const child = fork(SERVER, [variant, file], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const [{ port }] = (await once(child, "message")) as [{ port: number }];
  const run = (duration: number, conns: number, overallRate?: number) =>
    autocannon({
      url: `http://127.0.0.1:${port}/api/ping`,
      connections: conns,
      duration,
      ...(overallRate ? { overallRate } : {}),
    });
  try {
    await run(2, connections);
    const max = await run(seconds, connections);
    const one = await run(seconds, 1, rate);
    return { rps: max.requests.average, p99: max.latency.p99, oneP99: one.latency.p99 };
  } finally {
    child.send("stop");
    await once(child, "exit");
  }
}

const dir = mkdtempSync(join(tmpdir(), "reqtrack-mw-ab-"));
const results = new Map<string, { rps: number; p99: number; oneP99: number }[]>();
const load = [loadavg()[0] ?? 0];
try {
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(round + i) % variants.length] as string;
      const r = await measure(variant, join(dir, `${variant}-${round}.db`));
      (results.get(variant) ?? results.set(variant, []).get(variant))?.push(r);
      console.log(
        `round ${round + 1} ${variant}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms; ` +
          `one at a time p99 ${r.oneP99} ms (load ${loadavg()[0]?.toFixed(2)})`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
load.push(loadavg()[0] ?? 0);
const base = median((results.get(variants[0] as string) ?? []).map((r) => r.rps));
for (const [variant, runs] of results) {
  const rps = median(runs.map((r) => r.rps));
  console.log(
    `${variant}: median ${Math.round(rps)} req/s (${(rps / base).toFixed(2)}x ${variants[0]}), ` +
      `p99 ${median(runs.map((r) => r.p99))} ms, one at a time p99 ${median(runs.map((r) => r.oneP99))} ms; ` +
      `runs ${runs.map((r) => Math.round(r.rps)).join(" / ")}`,
  );
}
console.log(`load average before / after: ${load.map((l) => l.toFixed(2)).join(" / ")}`);
