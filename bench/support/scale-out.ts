/**
 * Several servers on one PostgreSQL: `servers` processes, each a tracker whose 100 callers
 * write full lifecycles into one shared schema; prints each one's rate and the total. The
 * figures in docs/scaling.md ("Several servers on one database") come from
 *
 *   node --import tsx bench/support/scale-out.ts postgres://postgres@127.0.0.1:5432/test 4
 *
 * (BENCH_LIFECYCLES per process, default 4,000). Not part of `npm run bench`: it measures the
 * machine's limit rather than a ratio against a baseline.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import pino from "pino";
import { createTracker } from "../../src/index.js";
import { envPositiveInt } from "./harness.js";

const lifecycles = envPositiveInt("BENCH_LIFECYCLES", 4000);
const [url, role = "", schemaArg = ""] = process.argv.slice(2);
if (!url) throw new Error("usage: scale-out.ts <postgres url> <servers>");

async function server(schema: string, index: number): Promise<void> {
  const tracker = await createTracker({
    storage: url as string,
    postgres: { schema },
    logger: pino({ level: "silent" }),
    watchdogIntervalMs: 0,
  });
  let next = 0;
  const started = performance.now();
  const caller = async () => {
    while (next < lifecycles) {
      const i = next++;
      const id = await tracker.createRequest({
        userId: `u${i % 50}`,
        kind: "video",
        tenantId: `t${i % 3}`,
        sessionId: `s${index}-${i % 40}`,
        source: "discord",
        initialMessage: `prompt ${i}`,
      });
      await tracker.startRequest(id);
      await tracker.startStage(id, "render");
      await tracker.logEvent(id, { type: "note", message: "rendering" });
      await tracker.completeStage(id, "render");
      await tracker.recordCost(id, { service: "openai", amountUsd: 0.01 });
      await tracker.completeRequest(id, { ok: true });
    }
  };
  await Promise.all(Array.from({ length: 100 }, caller));
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `  server ${index}: ${lifecycles} lifecycles in ${seconds.toFixed(1)} s = ${Math.round(lifecycles / seconds)}/s`,
  );
  await tracker.close();
}

async function main(servers: number): Promise<void> {
  const schema = `reqtrack_scale_${randomBytes(4).toString("hex")}`;
  // Migrate once up front, so that the servers do not all start by waiting on the lock.
  const first = await createTracker({
    storage: url as string,
    postgres: { schema },
    logger: pino({ level: "silent" }),
    watchdogIntervalMs: 0,
  });
  await first.close();
  const started = performance.now();
  try {
    await Promise.all(
      Array.from(
        { length: servers },
        (_, i) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(
              process.execPath,
              [
                "--import",
                "tsx",
                fileURLToPath(import.meta.url),
                url as string,
                `server:${i}`,
                schema,
              ],
              { stdio: ["ignore", "inherit", "inherit"] },
            );
            child.on("exit", (code) =>
              code === 0 ? resolve() : reject(new Error(`server ${i} exited ${code}`)),
            );
          }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const total = servers * lifecycles;
    console.log(
      `${servers} server(s): ${total} lifecycles in ${seconds.toFixed(1)} s = ${Math.round(total / seconds)}/s together (process start included)`,
    );
  } finally {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

if (role.startsWith("server:")) await server(schemaArg, Number(role.slice("server:".length)));
else await main(Number(role || 1));
