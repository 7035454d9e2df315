import { spawn } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDirect } from "../../bench/support/direct-seed.js";
import { openStore } from "../../src/index.js";
import { tempDir } from "../support/helpers.js";

const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/**
 * Seeds `base` requests the tracker's way, then copies the request rows with new ids (the last
 * byte of the id replaced) until about `total`: enough rows to page through, in seconds.
 */
async function seed(file: string, base: number, total: number): Promise<number> {
  const store = await openStore(file);
  await seedDirect(store, base, { progress: false });
  await store.close();
  return multiply(file, total);
}

/** Copies the request rows of `file` with new ids until there are at least `total`. */
function multiply(file: string, total: number): number {
  const db = new Database(file);
  // A throwaway file: the prompt search index and rollup triggers are not what export reads.
  db.pragma("synchronous = OFF");
  for (const { name } of db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'requests'")
    .all() as { name: string }[])
    db.exec(`DROP TRIGGER ${name}`);
  db.exec("CREATE TEMP TABLE copy AS SELECT * FROM requests");
  const update = db.prepare(
    "UPDATE copy SET id = substr(id, 1, length(id) - 2) || printf('%02x', ?)",
  );
  const insert = db.prepare("INSERT OR IGNORE INTO requests SELECT * FROM copy");
  for (
    let k = 0;
    (db.prepare("SELECT count(*) AS n FROM requests").get() as { n: number }).n < total;
    k++
  ) {
    update.run(k + 100);
    insert.run();
  }
  const n = (db.prepare("SELECT count(*) AS n FROM requests").get() as { n: number }).n;
  db.close();
  return n;
}

/** Exports `file` as CSV in a child process; its rows and its peak RSS (VmHWM, KiB). */
function exportPeak(file: string, out: string): Promise<{ rows: number; peakKib: number }> {
  return new Promise((resolve, reject) => {
    // A heap far smaller than the rows: an export that held them would die of it.
    const args = [
      "--max-old-space-size=48",
      "--import",
      "tsx",
      cli,
      "export",
      "--storage",
      file,
      "--format",
      "csv",
    ];
    const child = spawn(process.execPath, [...args, "--out", out, "--to", "2100-01-01T00:00:00Z"]);
    let peakKib = 0;
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // VmHWM is the high-water mark: read it just before the process goes, on its exit path.
    const read = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        peakKib = Math.max(peakKib, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      } catch {
        // gone
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(stderr));
      const rows = readFileSync(out, "utf8").trim().split("\n").length - 1;
      resolve({ rows, peakKib });
    });
  });
}

/**
 * About 50 s (seeding 100k rows on 2 cores), past the CI budget of the default run: it runs with
 * the long reliability tests, `REQTRACK_RELIABILITY=long npx vitest run test/cli/export-memory.test.ts`.
 */
const long = process.env.REQTRACK_RELIABILITY === "long";

describe.skipIf(process.platform !== "linux" || !long)("reqtrack export memory", () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  let small = 0;
  let large = 0;
  beforeAll(async () => {
    small = await seed(dir.file("small.db"), 500, 10_000);
    copyFileSync(dir.file("small.db"), dir.file("large.db"));
    large = await multiply(dir.file("large.db"), 100_000);
  }, 60_000);

  it("exports ten times the rows in about the same peak memory", async () => {
    const a = await exportPeak(dir.file("small.db"), dir.file("small.csv"));
    const b = await exportPeak(dir.file("large.db"), dir.file("large.csv"));
    expect(a.rows).toBe(small);
    expect(b.rows).toBe(large);
    expect(a.peakKib).toBeGreaterThan(0);
    console.log(`export peak RSS: ${small} rows ${a.peakKib} KiB, ${large} rows ${b.peakKib} KiB`);
    expect(b.peakKib - a.peakKib).toBeLessThan(30 * 1024);
  }, 90_000);
});
