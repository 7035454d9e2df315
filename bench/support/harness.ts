import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * What every benchmark in bench/ exports as `benchmark`. `bench/run.ts` finds the files,
 * runs them, prints their tables and writes `bench/results/<name>.json`.
 */
export interface Benchmark {
  /** The file name without ".ts"; also the results file name. */
  readonly name: string;
  readonly description: string;
  run(): Promise<BenchmarkReport>;
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
  options: { writeResults: boolean },
): Promise<void> {
  const timestamp = new Date().toISOString();
  console.log(`\n== ${benchmark.name}: ${benchmark.description}`);
  const report = await benchmark.run();
  console.log(`\n${formatTable(report.table)}\n`);
  for (const note of report.notes) console.log(`  ${note}`);

  if (!options.writeResults) {
    console.log(`\n(results not written; \`npm run bench -- ${benchmark.name}\` writes them)`);
    return;
  }
  const file = join(RESULTS_DIR, `${benchmark.name}.json`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const results = {
    benchmark: benchmark.name,
    description: benchmark.description,
    timestamp,
    machine: machineInfo(),
    parameters: report.parameters,
    figures: report.figures,
    notes: report.notes,
  };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults written to ${file}`);
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
