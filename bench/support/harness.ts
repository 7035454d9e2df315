import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isPostgresUrl } from "../../src/store/postgres/postgres-store.js";

/** Where a benchmark keeps reqtrack's data: SQLite files (the default) or PostgreSQL. */
export type Storage = "sqlite" | "postgres";

/** What `npm run bench -- --storage <url>` hands to a benchmark. */
export interface RunOptions {
  /**
   * A `postgres://` URL: run on that database instead of SQLite files. The benchmark makes a
   * fresh schema for each run and drops it afterwards (support/postgres.ts).
   */
  postgresUrl?: string;
}

/**
 * What every benchmark in bench/ exports as `benchmark`. `bench/run.ts` finds the files,
 * runs them, prints their tables and writes `bench/results/<name>.json` (on PostgreSQL,
 * `<name>-postgres.json`, so that one storage's figures never overwrite the other's).
 */
export interface Benchmark {
  /** The file name without ".ts"; also the results file name. */
  readonly name: string;
  readonly description: string;
  /** The storages `run` can measure; the runner refuses `--storage` for the others. */
  readonly storages: readonly Storage[];
  run(options: RunOptions): Promise<BenchmarkReport>;
}

export interface BenchmarkReport {
  /** Everything that shapes the figures: sizes, rounds, storage, settings. */
  parameters: Record<string, unknown>;
  table: TextTable;
  /** Printed under the table and kept in the results file. */
  notes: string[];
  /** The measured figures, as they go into the results file. */
  figures: Record<string, unknown>;
}

export interface TextTable {
  columns: readonly { title: string; align: "left" | "right" }[];
  rows: readonly (readonly string[])[];
}

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

export function machineInfo() {
  const cores = cpus();
  return {
    cpuModel: cores[0]?.model ?? "unknown",
    cpuCount: cores.length,
    node: process.version,
    platform: platform(),
    release: release(),
    arch: process.arch,
    totalMemoryMiB: Math.round(totalmem() / 2 ** 20),
  };
}

/**
 * Runs one benchmark, prints its table and notes, and (unless told not to) writes the
 * results file with the figures, machine info, timestamp and parameters.
 */
export async function runBenchmark(
  benchmark: Benchmark,
  options: RunOptions & { writeResults: boolean },
): Promise<void> {
  const storage: Storage = options.postgresUrl === undefined ? "sqlite" : "postgres";
  if (!benchmark.storages.includes(storage)) {
    throw new Error(`bench/${benchmark.name}.ts does not run on ${storage}`);
  }
  const timestamp = new Date().toISOString();
  const loadAtStart = loadAverage();
  const on = storage === "postgres" ? " (PostgreSQL)" : "";
  console.log(`\n== ${benchmark.name}${on}: ${benchmark.description}`);
  const report = await benchmark.run({ postgresUrl: options.postgresUrl });
  console.log(`\n${formatTable(report.table)}\n`);
  for (const note of report.notes) console.log(`  ${note}`);

  if (!options.writeResults) {
    const command = `npm run bench -- ${on ? "--storage <url> " : ""}${benchmark.name}`;
    console.log(`\n(results not written; \`${command}\` writes them)`);
    return;
  }
  const suffix = storage === "postgres" ? "-postgres" : "";
  const file = join(RESULTS_DIR, `${benchmark.name}${suffix}.json`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const results = {
    benchmark: benchmark.name,
    description: benchmark.description,
    storage,
    timestamp,
    machine: machineInfo(),
    // The machine may be shared: its load says how far to trust wall-clock figures.
    loadAverage: { start: loadAtStart, end: loadAverage() },
    parameters: report.parameters,
    figures: report.figures,
    notes: report.notes,
  };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults written to ${file}`);
}

/** The 1, 5 and 15 minute load averages, to two decimals. */
function loadAverage(): number[] {
  return loadavg().map((load) => Math.round(load * 100) / 100);
}

export function formatTable({ columns, rows }: TextTable): string {
  const widths = columns.map((column, i) =>
    Math.max(column.title.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? "";
        const width = widths[i] ?? 0;
        return column.align === "left" ? cell.padEnd(width) : cell.padStart(width);
      })
      .join("  ")
      .trimEnd();
  const rule = widths.map((width) => "-".repeat(width)).join("  ");
  return [line(columns.map((c) => c.title)), rule, ...rows.map(line)].join("\n");
}

/** 12345.6 -> "12,346"; `digits` for ratios and seconds. */
export function formatNumber(value: number, digits = 0): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] as number) + upper) / 2;
}

/** One verification after a run: what was counted, the count, and what it must be. */
export type Check = [what: string, actual: number, wanted: number];

/** Throws, naming every mismatch, unless each check's count is the wanted one. */
export function failOnMismatch(label: string, checks: readonly Check[]): void {
  const wrong = checks.filter(([, actual, wanted]) => actual !== wanted);
  if (wrong.length > 0) {
    const detail = wrong.map(([what, actual, wanted]) => `${what}: ${actual}, expected ${wanted}`);
    throw new Error(`${label} did not do what it claims:\n  ${detail.join("\n  ")}`);
  }
}

/** A positive integer from the environment (underscores allowed: 20_000), or `fallback`. */
export function envPositiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw.replaceAll("_", ""));
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * The command line of `bench/run.ts` (and of a benchmark run on its own): benchmark names,
 * and `--storage <url>` or `--storage=<url>` with a `postgres://` URL.
 */
export function parseBenchArgs(args: readonly string[]): RunOptions & { names: string[] } {
  const names: string[] = [];
  let storage: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--storage") {
      storage = args[++i];
      if (storage === undefined) throw new Error("--storage needs a postgres:// URL");
    } else if (arg.startsWith("--storage=")) {
      storage = arg.slice("--storage=".length);
    } else if (arg.startsWith("-")) {
      throw new Error(`unknown option ${arg}; usage: npm run bench -- [--storage <url>] [name...]`);
    } else {
      names.push(arg);
    }
  }
  if (storage === undefined) return { names };
  // SQLite runs always use fresh files in the temp directory; only a server needs naming.
  if (!isPostgresUrl(storage)) {
    throw new Error(`--storage takes a postgres:// URL, got ${JSON.stringify(redactUrl(storage))}`);
  }
  return { names, postgresUrl: storage };
}

/**
 * `node --import tsx bench/<name>.ts [--storage <url>]`: one benchmark on its own (to profile
 * it), results printed but not written.
 */
export async function runStandalone(benchmark: Benchmark): Promise<void> {
  const { postgresUrl } = parseBenchArgs(process.argv.slice(2));
  await runBenchmark(benchmark, { postgresUrl, writeResults: false });
}

/** The URL with its password masked, for printing and results files. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, "$1:***@");
}

/** Progress goes to stderr so that stdout holds only the report. */
export function progress(message: string): void {
  process.stderr.write(`  ${message}\n`);
}

/** True when the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
