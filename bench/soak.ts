/**
 * Soak: `npm run soak -- --minutes 10 [--rate 200] [--assert]`. One server on a SQLite file in
 * this process, under a steady open-loop mix (REST creates, ingest lifecycles, list, stats and
 * by-id reads) sent by a child process (bench/support/soak-load.ts) with 5 SSE clients; prints
 * RSS, event-loop lag, request p99 and both processes' CPU every 30 s, and the trend by third.
 * With --assert (the long run) it fails when RSS grows 10 % or more from the first third to the
 * last (after the warm-up, see WARMUP_PERIODS), or the last third's p99 exceeds 1.5x the first's.
 * Figures go to bench/results/soak.json.
 */
import { fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build, decodeFromCompressedBase64 } from "hdr-histogram-js";
import pino from "pino";
import { createTracker } from "../src/index.js";
import { buildApp } from "../src/server/app.js";
import { tempDir } from "../test/support/helpers.js";
import type { LoadPeriod } from "./support/soak-load.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    // The load one process holds with a flat p99 on the 2-core machine the figures come from
    // (docs/reliability.md, "What one process holds"); past it the server sheds.
    rate: { type: "string", default: "200" },
    assert: { type: "boolean", default: false },
    warmup: { type: "string" },
  },
});
const MINUTES = Number(values.minutes);
const RATE = Number(values.rate);
/**
 * Periods (30 s) left out of the trend as warm-up: until the tracker's memory of its last
 * 20,000 created requests (src/tracker/known-requests.ts) is full, the heap grows by design.
 * 60 % of the mix creates a request, so that takes 20,000 / (0.6 x rate) s: 42 s at 800
 * calls/s (the first period, as the soak first counted), 167 s at 200. `--warmup <s>` sets it.
 */
const WARMUP_PERIODS = Math.max(
  1,
  Math.ceil((values.warmup === undefined ? 20_000 / (0.6 * RATE) : Number(values.warmup)) / 30),
);
/** The event-loop delay past which the soak's server sheds (`reqtrack serve --max-event-loop-delay`). */
const SHED_DELAY_MS = 100;
const GENERATOR = fileURLToPath(new URL("./support/soak-load.ts", import.meta.url));

/** One 30 s period: the server's own figures beside what the generator saw. */
interface Period extends LoadPeriod {
  rssMiB: number;
  /** V8 heap in use (after whatever GC last ran): tells a JS leak from native memory. */
  heapMiB: number;
  lagP99Ms: number;
  serverCpuPercent: number;
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");

async function main(): Promise<number> {
  const dir = tempDir("reqtrack-soak-");
  const tracker = await createTracker({
    storage: dir.file("soak.db"),
    logger: pino({ level: "error" }),
    watchdogIntervalMs: 0,
  });
  // Shedding as a process with its cores to itself runs it (docs/server.md): past what the
  // loop can serve, calls queue in the kernel's socket buffers where the in-flight count never
  // sees them; the event-loop delay (counted while the loop is busy with its own work) does.
  const app = await buildApp({
    tracker,
    logger: false,
    shedding: { maxEventLoopDelayMs: SHED_DELAY_MS },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const loadAtStart = load();
  console.log(`[soak] ${RATE} calls/s for ${MINUTES} min, load average ${loadAtStart}`);

  const periods: Period[] = [];
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  let cpu = process.cpuUsage();
  let cpuAt = performance.now();
  const generator = fork(GENERATOR, [base, String(RATE), String(MINUTES)], {
    execArgv: ["--import", "tsx"],
  });
  await new Promise<void>((resolve, reject) => {
    generator.on("message", (message: LoadPeriod | { done: true }) => {
      if ("done" in message) return resolve();
      const used = process.cpuUsage(cpu);
      const serverCpuPercent = Math.round(
        ((used.user + used.system) / 1000 / (performance.now() - cpuAt)) * 100,
      );
      periods.push({
        ...message,
        rssMiB: Math.round(process.memoryUsage().rss / 1048576),
        heapMiB: Math.round(process.memoryUsage().heapUsed / 1048576),
        lagP99Ms: Math.round(lag.percentile(99) / 1e6),
        serverCpuPercent,
      });
      console.log(
        `[soak] t=${periods.length * 30}s`,
        JSON.stringify(withoutHistograms(periods.at(-1) as Period)),
      );
      lag.reset();
      cpu = process.cpuUsage();
      cpuAt = performance.now();
    });
    generator.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
  await app.close();
  await tracker.close();
  dir.cleanup();

  // The warm-up (the JIT, SQLite's page cache, the server's bounded caches filling up) is
  // trend is measured from the 30 s mark on.
  const summary = byThird(periods.slice(WARMUP_PERIODS));
  console.log("[soak] by third", JSON.stringify(summary));
  const [first, , last] = summary as [Third, Third, Third];
  const rssGrowth = (last.rssMiB - first.rssMiB) / first.rssMiB;
  const p99Ratio = last.p99Ms / Math.max(first.p99Ms, 1);
  const ok = summary.every((t) => t.duePerS > 0) && rssGrowth < 0.1 && p99Ratio <= 1.5;
  writeFileSync(
    fileURLToPath(new URL("./results/soak.json", import.meta.url)),
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: `${cpus().length} x ${cpus()[0]?.model ?? "?"}, Node ${process.version}`,
        loadAverage: { start: loadAtStart, end: load() },
        rate: RATE,
        minutes: MINUTES,
        warmupSeconds: WARMUP_PERIODS * 30,
        shedding: { maxEventLoopDelayMs: SHED_DELAY_MS, maxInFlight: 256 },
        rssGrowthPercent: Number((rssGrowth * 100).toFixed(1)),
        p99Ratio: Number(p99Ratio.toFixed(2)),
        ok,
        thirds: summary,
        periods: periods.map(withoutHistograms),
      },
      null,
      2,
    )}\n`,
  );
  console.log(
    `[soak] rss ${(rssGrowth * 100).toFixed(1)} %, p99 ${p99Ratio.toFixed(2)}x, load average ${load()}: ${ok ? "ok" : "FAILED"}`,
  );
  return !values.assert || ok ? 0 : 1;
}

interface Third {
  rssMiB: number;
  p99Ms: number;
  servedP99Ms: number;
  worstPeriodP99Ms: number;
  heapMiB: number;
  lagP99Ms: number;
  callsPerS: number;
  duePerS: number;
  errors: number;
  shed: number;
  serverCpuPercent: number;
  generatorCpuPercent: number;
}

/** A period's figures, without the histograms that only the thirds' p99s need. */
function withoutHistograms<T extends LoadPeriod>(
  period: T,
): Omit<T, "histogram" | "servedHistogram"> {
  const { histogram: _all, servedHistogram: _served, ...figures } = period;
  return figures;
}

/** The p99 (ms) of all the calls of some periods, from their merged histograms. */
function mergedP99(encoded: string[]): number {
  const all = build({ lowestDiscernibleValue: 1, highestTrackableValue: 6e7 });
  for (const one of encoded) all.add(decodeFromCompressedBase64(one));
  return Math.round(all.getValueAtPercentile(99) / 1000);
}

/**
 * The periods' figures by third: mean RSS and CPU, the p99 of all the third's calls (not the
 * worst period's p99: one 30 s period of a shared machine's hiccups decided that), the worst
 * period's lag p99, rates, error counts.
 */
function byThird(periods: Period[]): Third[] {
  const size = Math.max(1, Math.floor(periods.length / 3));
  const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return [0, 1, 2].map((k) => {
    const t = periods.slice(k * size, k === 2 ? undefined : (k + 1) * size);
    const seconds = Math.max(1, t.length * 30);
    return {
      rssMiB: mean(t.map((p) => p.rssMiB)),
      heapMiB: mean(t.map((p) => p.heapMiB)),
      p99Ms: mergedP99(t.map((p) => p.histogram)),
      servedP99Ms: mergedP99(t.map((p) => p.servedHistogram)),
      worstPeriodP99Ms: Math.max(0, ...t.map((p) => p.p99Ms)),
      lagP99Ms: Math.max(0, ...t.map((p) => p.lagP99Ms)),
      callsPerS: Math.round(sum(t.map((p) => p.answered)) / seconds),
      duePerS: Math.round(sum(t.map((p) => p.due)) / seconds),
      errors: sum(t.map((p) => p.errors)),
      shed: sum(t.map((p) => p.shed)),
      serverCpuPercent: mean(t.map((p) => p.serverCpuPercent)),
      generatorCpuPercent: mean(t.map((p) => p.cpuPercent)),
    };
  });
}

process.exitCode = await main();
