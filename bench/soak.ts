/**
 * Soak: `npm run soak -- --minutes 10 [--rate 300]`. One in-process server on a SQLite file
 * under a steady mixed load (REST creates and lifecycles, ingest batches, list and stats
 * reads) with 5 SSE clients connected; prints RSS, event-loop lag and p99 every 30 s, and the
 * trend by third at the end. With --assert (the long run) it fails when RSS grows 10 % or
 * more after the first third, or the last third's p99 exceeds 1.5x the first's.
 */
import * as http from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { build } from "hdr-histogram-js";
import pino from "pino";
import { createTracker } from "../src/index.js";
import { buildApp } from "../src/server/app.js";
import { tempDir } from "../test/support/helpers.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    rate: { type: "string", default: "300" },
    assert: { type: "boolean", default: false },
  },
});
const MINUTES = Number(values.minutes);
const RATE = Number(values.rate);
const PERIOD_MS = 30_000;

interface Period {
  rssMiB: number;
  lagP99Ms: number;
  p99Ms: number;
  done: number;
  errors: number;
}

async function main(): Promise<number> {
  const dir = tempDir("reqtrack-soak-");
  const tracker = await createTracker({
    storage: dir.file("soak.db"),
    logger: pino({ level: "error" }),
    watchdogIntervalMs: 0,
  });
  const app = await buildApp({ tracker, logger: false });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const streams = Array.from({ length: 5 }, () => {
    const request = http.get(`${base}/api/v1/stream`, (response) => response.resume());
    request.on("error", () => {});
    return request;
  });

  const call = (method: string, path: string, body?: unknown) =>
    new Promise<number>((resolve) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const request = http.request(
        `${base}${path}`,
        {
          method,
          agent,
          headers: payload ? { "content-type": "application/json" } : {},
        },
        (response) => {
          response.resume();
          response.on("end", () => resolve(response.statusCode ?? 0));
        },
      );
      request.on("error", () => resolve(0));
      request.end(payload);
    });

  let n = 0;
  const ids: string[] = [];
  const mixed = async (): Promise<number> => {
    n += 1;
    const kind = n % 10;
    if (kind < 4) {
      const status = await call("POST", "/api/v1/requests", { userId: `u${n % 50}` });
      return status;
    }
    if (kind < 6) {
      const id = `req_soak_${n}`;
      ids.push(id);
      if (ids.length > 1000) ids.shift();
      return call("POST", "/api/v1/ingest", {
        ops: [
          { opId: `c${n}`, type: "create", request: { id, userId: "u" } },
          { opId: `t${n}`, type: "transition", requestId: id, to: "running", workerId: "w" },
          { opId: `k${n}`, type: "cost", requestId: id, cost: { service: "s", amountUsd: 0.01 } },
          { opId: `d${n}`, type: "transition", requestId: id, to: "completed" },
        ],
      });
    }
    if (kind < 8) return call("GET", "/api/v1/requests?limit=20");
    if (kind === 8) return call("GET", "/api/v1/stats/overview?window=1h");
    return call("GET", `/api/v1/requests/${ids[ids.length - 1] ?? "none"}`);
  };

  const periods: Period[] = [];
  let latency = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  let done = 0;
  let errors = 0;
  const end = Date.now() + MINUTES * 60_000;
  const ticker = setInterval(() => {
    periods.push({
      rssMiB: Math.round(process.memoryUsage().rss / 1048576),
      lagP99Ms: Math.round(lag.percentile(99) / 1e6),
      p99Ms: Math.round(latency.getValueAtPercentile(99) / 1000),
      done,
      errors,
    });
    console.log(`[soak] t=${periods.length * 30}s`, JSON.stringify(periods.at(-1)));
    latency = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
    lag.reset();
    done = 0;
    errors = 0;
  }, PERIOD_MS);

  // Open loop: RATE calls a second whatever the answers take, as real clients send them.
  await new Promise<void>((resolve) => {
    const pace = setInterval(() => {
      if (Date.now() >= end) {
        clearInterval(pace);
        resolve();
        return;
      }
      for (let i = 0; i < RATE / 100; i++) {
        const started = process.hrtime.bigint();
        void mixed().then((status) => {
          latency.recordValue(Number((process.hrtime.bigint() - started) / 1000n));
          done += 1;
          if (status === 0 || status >= 500) errors += 1;
        });
      }
    }, 10);
  });
  clearInterval(ticker);
  for (const stream of streams) stream.destroy();
  agent.destroy();
  await app.close();
  await tracker.close();
  dir.cleanup();

  const third = Math.max(1, Math.floor(periods.length / 3));
  const thirds = [0, 1, 2].map((k) =>
    periods.slice(k * third, k === 2 ? undefined : (k + 1) * third),
  );
  const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
  const summary = thirds.map((t) => ({
    rssMiB: mean(t.map((p) => p.rssMiB)),
    p99Ms: Math.max(0, ...t.map((p) => p.p99Ms)),
    lagP99Ms: Math.max(0, ...t.map((p) => p.lagP99Ms)),
    reqPerS: Math.round(t.reduce((a, p) => a + p.done, 0) / (t.length * 30)),
    errors: t.reduce((a, p) => a + p.errors, 0),
  }));
  console.log("[soak] by third", JSON.stringify(summary));
  if (!values.assert) return 0;
  const [first, , last] = summary as [(typeof summary)[0], unknown, (typeof summary)[0]];
  const rssGrowth = (last.rssMiB - first.rssMiB) / first.rssMiB;
  const ok = rssGrowth < 0.1 && last.p99Ms <= 1.5 * Math.max(first.p99Ms, 1);
  console.log(`[soak] rss growth ${(rssGrowth * 100).toFixed(1)} %, ${ok ? "ok" : "FAILED"}`);
  return ok ? 0 : 1;
}

process.exitCode = await main();
