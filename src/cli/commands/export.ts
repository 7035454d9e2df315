import { closeSync, existsSync, ftruncateSync, openSync, statSync } from "node:fs";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { dirname } from "node:path";
import type { Command } from "commander";
import { type Json, type Query, type TargetFlags, withBackend, withTarget } from "../backend.js";
import { CliError } from "../fail.js";
import { Checkpoint } from "../transfer/checkpoint.js";
import { Progress } from "../transfer/progress.js";
import { REQUEST_FIELDS } from "../request-fields.js";

interface ExportFlags extends TargetFlags {
  out?: string;
  format: string;
  tenant?: string;
  kind?: string;
  from?: string;
  to?: string;
  pageSize: string;
  progress?: boolean;
}

interface ExportState {
  query: Query;
  format: string;
  cursor: string | null;
  bytes: number;
  rows: number;
}

const CSV_COLUMNS = REQUEST_FIELDS;

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Refuses an `--out` that cannot be a file before anything is read or written, with a line
 * that says why (rather than a raw EISDIR or ENOTDIR).
 */
function checkOutFile(out: string): void {
  if (existsSync(out) && statSync(out).isDirectory()) {
    throw new CliError(`--out ${out} is a folder: name a file`);
  }
  const dir = dirname(out);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new CliError(`--out ${out}: ${dir} is not a folder (create it first)`);
  }
}

/**
 * Pages through the requests with the list cursor (constant memory whatever the size),
 * writes each page with backpressure, and records after each page how far it got, so a
 * killed export resumes where it stopped: the file is cut back to the last recorded page.
 */
async function runExport(flags: ExportFlags): Promise<void> {
  if (flags.format !== "ndjson" && flags.format !== "csv") {
    throw new CliError(`--format must be ndjson or csv, not ${flags.format}`);
  }
  const pageSize = Number(flags.pageSize);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new CliError(`--page-size must be a whole number from 1 to 1000, not ${flags.pageSize}`);
  }
  if (flags.out) checkOutFile(flags.out);
  const checkpoint = flags.out ? new Checkpoint<ExportState>(`${flags.out}.checkpoint`) : null;
  const query: Query = {
    tenantId: flags.tenant,
    kind: flags.kind,
    from: flags.from,
    // A fixed end, so a resumed export reads the same set of requests as the first run.
    to: flags.to ?? new Date().toISOString(),
  };
  let state: ExportState = { query, format: flags.format, cursor: null, bytes: 0, rows: 0 };
  const saved = checkpoint?.read();
  if (saved && flags.out && existsSync(flags.out)) {
    if (saved.format !== flags.format || (flags.to && saved.query.to !== flags.to)) {
      throw new CliError(`${checkpoint?.path} is of another export; remove it to start over`);
    }
    state = saved;
    const fd = openSync(flags.out, "r+");
    ftruncateSync(fd, Math.min(state.bytes, statSync(flags.out).size));
    closeSync(fd);
    process.stderr.write(`Resuming after ${state.rows} rows (${checkpoint?.path})\n`);
  }
  const out = flags.out
    ? createWriteStream(flags.out, { flags: state.bytes > 0 ? "a" : "w" })
    : process.stdout;
  // An open that fails (a folder made in the meantime) rejects here instead of crashing.
  if (flags.out) await once(out, "open");
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, "drain");
  };
  await withBackend(flags, true, async (b) => {
    const progress = new Progress("export", null, state.rows, flags.progress);
    if (flags.format === "csv" && state.bytes === 0) {
      const header = `${CSV_COLUMNS.join(",")}\n`;
      await write(header);
      state.bytes += Buffer.byteLength(header);
    }
    for (;;) {
      const page = await b.list({
        ...state.query,
        limit: String(pageSize),
        ...(state.cursor ? { cursor: state.cursor } : {}),
      });
      let chunk = "";
      if (flags.format === "csv") {
        for (const r of page.items) chunk += `${CSV_COLUMNS.map((c) => csvCell(r[c])).join(",")}\n`;
      } else {
        const lines = await Promise.all(page.items.map((item) => detail(b, item)));
        chunk = lines.join("");
      }
      await write(chunk);
      state.bytes += Buffer.byteLength(chunk);
      state.rows += page.items.length;
      state.cursor = page.nextCursor;
      if (checkpoint && out !== process.stdout) {
        // The page must be in the file before the checkpoint says so.
        await new Promise<void>((resolve, reject) =>
          out.write("", (error) => (error ? reject(error) : resolve())),
        );
        checkpoint.write(state);
      }
      progress.update(state.rows, state.rows + (page.nextCursor ? page.total : 0));
      if (!page.nextCursor) break;
    }
    progress.finish(state.rows);
  });
  if (out !== process.stdout) {
    out.end();
    await once(out, "finish");
    checkpoint?.remove();
    process.stderr.write(`Exported ${state.rows} requests to ${flags.out}\n`);
  }
}

async function detail(
  b: { show(id: string): Promise<Json | null>; events(id: string): Promise<Json[]> },
  item: Json,
) {
  const id = String(item.id);
  const [full, events] = await Promise.all([b.show(id), b.events(id)]);
  if (!full) return ""; // deleted between the list and the read
  const { stages, costs, ...request } = full;
  return `${JSON.stringify({ request, stages, costs, events })}\n`;
}

/** `reqtrack export`. */
export function register(program: Command): void {
  withTarget(
    program
      .command("export")
      .description("Export requests with stages, events and costs as NDJSON (or CSV), resumable")
      .option("--out <file>", "write here (resumable through <file>.checkpoint); default stdout")
      .option("--format <f>", "ndjson (everything) or csv (the request table)", "ndjson")
      .option("--tenant <id>", "one tenant only")
      .option("--kind <kind>", "one kind only")
      .option("--from <time>", "created at or after (ISO-8601 or epoch ms)")
      .option("--to <time>", "created before (ISO-8601 or epoch ms); default now")
      .option("--page-size <n>", "requests read per page", "500")
      .option("--progress", "draw the progress bar even when stderr is not a terminal")
      .option("--no-progress", "no progress bar (by default it shows only on a terminal)"),
  ).action(runExport);
}
