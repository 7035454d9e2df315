/**
 * Benchmark runner: `npm run bench` runs every benchmark in bench/, `npm run bench -- ingest`
 * only the ones named. A benchmark is any bench/<name>.ts (other than this file) that exports
 * `benchmark: Benchmark` (see support/harness.ts); adding bench/queries.ts is all it takes.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Benchmark, runBenchmark } from "./support/harness.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

function availableBenchmarks(): string[] {
  return readdirSync(BENCH_DIR, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && entry.name !== "run.ts")
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

async function main(requested: readonly string[]): Promise<number> {
  const available = availableBenchmarks();
  const unknown = requested.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark(s): ${unknown.join(", ")}; available: ${available.join(", ")}`,
    );
    return 2;
  }
  let failed = 0;
  for (const name of requested.length > 0 ? requested : available) {
    try {
      await runBenchmark(await loadBenchmark(name), { writeResults: true });
    } catch (error) {
      failed++;
      console.error(`\nbenchmark ${name} FAILED:`, error);
    }
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
