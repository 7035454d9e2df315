import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { type Json, type TargetFlags, withBackend, withTarget } from "../backend.js";
import { CliError } from "../fail.js";
import { Checkpoint } from "../transfer/checkpoint.js";
import { Progress } from "../transfer/progress.js";
import { type ExportLine, replayOps } from "../transfer/replay-ops.js";

/** At most this many ops per ingest call (the API takes 1000). */
const BATCH_OPS = 900;

/**
 * Reads an NDJSON export line by line and sends each request's history as ingest ops with
 * ids derived from the request: a second import of the same file sends the same op ids and
 * changes nothing. The checkpoint records the last line sent, so a killed import resumes.
 */
async function runImport(file: string, flags: TargetFlags & { progress?: boolean }) {
  if (!existsSync(file)) throw new CliError(`No file ${file}`);
  const checkpoint = new Checkpoint<{ line: number }>(`${file}.import-checkpoint`);
  const skip = checkpoint.read()?.line ?? 0;
  if (skip > 0) process.stderr.write(`Resuming after line ${skip} (${checkpoint.path})\n`);
  let lineNo = 0;
  let requests = 0;
  let failed = 0;
  let batch: Json[] = [];
  let batchEnd = 0;
  await withBackend(flags, false, async (b) => {
    const progress = new Progress("import", null, skip, flags.progress);
    if (progress.enabled) progress.update(skip, await countLines(file));
    const send = async () => {
      if (batch.length === 0) return;
      const results = await b.ingest(batch);
      for (const [i, result] of results.entries()) {
        if (result.ok) continue;
        failed++;
        if (failed <= 5) {
          process.stderr.write(
            `op ${String(batch[i]?.opId)} (${String(batch[i]?.type)} ${String(batch[i]?.requestId)}): ${result.error?.message}\n`,
          );
        }
      }
      batch = [];
      checkpoint.write({ line: batchEnd });
    };
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const text of lines) {
      lineNo++;
      if (lineNo <= skip || text.trim() === "") continue;
      let parsed: ExportLine;
      try {
        parsed = JSON.parse(text) as ExportLine;
        if (!parsed.request || !Array.isArray(parsed.events)) throw new Error("not an export line");
      } catch (error) {
        throw new CliError(`${file}:${lineNo}: ${(error as Error).message}`);
      }
      const ops = replayOps(parsed);
      if (batch.length + ops.length > BATCH_OPS) await send();
      batch.push(...ops);
      batchEnd = lineNo;
      requests++;
      progress.update(skip + requests);
    }
    await send();
    progress.finish(skip + requests);
  });
  checkpoint.remove();
  process.stderr.write(
    `Imported ${requests} requests from ${file}${failed ? `; ${failed} ops refused` : ""}\n`,
  );
  if (failed) process.exitCode = 1;
}

/** Lines of `file` (one request each), counted in one streaming pass for the bar's total. */
async function countLines(file: string): Promise<number> {
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    if (chunk.length) last = chunk[chunk.length - 1] ?? 10;
  }
  return last === 10 ? lines : lines + 1;
}

/** `reqtrack import <file>`. */
export function register(program: Command): void {
  withTarget(
    program
      .command("import <file>")
      .description("Import an NDJSON export; the same file twice changes nothing")
      .option("--progress", "draw the progress bar even when stderr is not a terminal")
      .option("--no-progress", "no progress bar (by default it shows only on a terminal)"),
  ).action(runImport);
}
