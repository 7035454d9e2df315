/**
 * Benchmark runner: `npm run bench` runs every benchmark in bench/, `npm run bench -- ingest`
 * only the ones named. A benchmark is any bench/<name>.ts (other than this file) that exports
 * `benchmark: Benchmark` (see support/harness.ts); adding bench/queries.ts is all it takes.
 *
 * `npm run bench -- --storage postgres://user@host/db [name...]` runs the benchmarks that
 * support PostgreSQL on that database (each run in a fresh schema, dropped afterwards) and
 * writes `bench/results/<name>-postgres.json`; the others are skipped, or refused when named.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  type Benchmark,
  parseBenchArgs,
  runBenchmark,
  type RunOptions,
} from "./support/harness.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
/** This runner, and the soak, which runs for minutes on its own (`npm run soak`). */
const NOT_BENCHMARKS = new Set(["run.ts", "soak.ts"]);

function availableBenchmarks(): string[] {
  return readdirSync(BENCH_DIR, { withFileTypes: true })
    .filter(
      (entry) => entry.isFile() && entry.name.endsWith(".ts") && !NOT_BENCHMARKS.has(entry.name),
    )
    .map((entry) => entry.name.slice(0, -".ts".length))
    .sort();
}

async function loadBenchmark(name: string): Promise<Benchmark> {
  const module = (await import(pathToFileURL(join(BENCH_DIR, `${name}.ts`)).href)) as {
    benchmark?: Benchmark;
  };
  if (module.benchmark?.name !== name) {
    throw new Error(`bench/${name}.ts must export \`benchmark\` with name "${name}"`);
  }
  return module.benchmark;
}

async function main(args: readonly string[]): Promise<number> {
  let requested: string[];
  let options: RunOptions;
  try {
    const { names, ...rest } = parseBenchArgs(args);
    requested = names;
    options = rest;
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const available = availableBenchmarks();
  const unknown = requested.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark(s): ${unknown.join(", ")}; available: ${available.join(", ")}`,
    );
    return 2;
  }
  // Loaded before any runs, so that a benchmark that cannot run on the storage is known first.
  let benchmarks: Benchmark[];
  try {
    benchmarks = await Promise.all(
      (requested.length > 0 ? requested : available).map(loadBenchmark),
    );
  } catch (error) {
    console.error("could not load the benchmarks:", error);
    return 1;
  }
  let selected = benchmarks;
  if (options.postgresUrl !== undefined) {
    const sqliteOnly = benchmarks.filter((b) => !b.storages.includes("postgres"));
    if (sqliteOnly.length > 0) {
      const names = sqliteOnly.map((b) => b.name).join(", ");
      // Named on the command line: the caller expects figures we cannot give, so say no.
      if (requested.length > 0) {
        console.error(`${names}: SQLite only, not run with --storage; run without it`);
        return 2;
      }
      console.log(`skipped: ${names} (SQLite only, not run with --storage)`);
    }
    selected = benchmarks.filter((b) => b.storages.includes("postgres"));
  }
  let failed = 0;
  for (const benchmark of selected) {
    try {
      await runBenchmark(benchmark, { ...options, writeResults: true });
    } catch (error) {
      failed++;
      console.error(`\nbenchmark ${benchmark.name} FAILED:`, error);
    }
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
