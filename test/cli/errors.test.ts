import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { silentLogger, tempDir } from "../support/helpers.js";

/** CLI error messages keep their cause, in one line, with a non-zero exit and no stack. */
const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const tsx = new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;
const execFileAsync = promisify(execFile);

/** Runs the CLI in `cwd` and answers its exit code and stderr; never throws. */
async function fails(cwd: string, ...args: string[]): Promise<string> {
  const result = await execFileAsync(process.execPath, ["--import", tsx, cli, ...args], {
    cwd,
    env: { ...process.env, REQTRACK_URL: "", REQTRACK_KEY: "", REQTRACK_LOG_LEVEL: "error" },
    // A serve that did start would listen until killed: stop it, and fail below.
    timeout: 60_000,
  }).then(
    ({ stderr }) => ({ code: 0, stderr }),
    (error: { code: number; stderr: string }) => error,
  );
  expect(result.code, args.join(" ")).toBe(1);
  expect(result.stderr.trim().split("\n"), result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr).toMatch(/^reqtrack: /);
  return result.stderr.trim();
}

describe("CLI error messages", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  it("reports a port in use before the database file is created or migrated", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const { port } = busy.address() as AddressInfo;
    try {
      const storage = dir.file("new/serve.db");
      const line = await fails(dir.dir, "serve", "--port", String(port), "--storage", storage);
      expect(line).toContain(`port ${port} on 127.0.0.1 is in use`);
      expect(existsSync(dir.file("new"))).toBe(false);
      expect(readdirSync(dir.dir)).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  }, 60_000);

  it('names the path in "unable to open database file"', async () => {
    const folder = dir.file("a-folder");
    mkdirSync(folder);
    for (const command of [["migrate"], ["serve", "--port", "0"], ["demo"]]) {
      const line = await fails(dir.dir, ...command, "--storage", folder);
      expect(line, command[0]).toBe(`reqtrack: unable to open database file ${folder}`);
    }
  }, 60_000);

  it("says which file is in the way of a storage folder, and never shows a raw EEXIST", async () => {
    const file = dir.file("plain.txt");
    writeFileSync(file, "not a folder");
    for (const storage of [dir.file("plain.txt/x.db"), dir.file("plain.txt/sub/x.db")]) {
      for (const command of [
        ["migrate"],
        ["keys", "create", "--role", "admin"],
        ["serve", "--port", "0"],
        ["demo"],
      ]) {
        const line = await fails(dir.dir, ...command, "--storage", storage);
        expect(line, command.join(" ")).toBe(
          `reqtrack: cannot create the folder of ${storage}: ${file} is a file, not a folder`,
        );
        expect(line).not.toMatch(/EEXIST|ENOTDIR/);
      }
    }
  }, 120_000);

  it("refuses an export --out that cannot be a file, with no raw EISDIR or ENOTDIR", async () => {
    const storage = dir.file("export.db");
    const tracker = await createTracker({ storage, logger: silentLogger(), watchdogIntervalMs: 0 });
    await tracker.createRequest({ userId: "u" });
    await tracker.close();
    const folder = dir.file("out-folder");
    mkdirSync(folder);
    writeFileSync(dir.file("plain.txt"), "not a folder");
    const out = dir.file("plain.txt/out.ndjson");
    expect(await fails(dir.dir, "export", "--storage", storage, "--out", folder)).toBe(
      `reqtrack: --out ${folder} is a folder: name a file`,
    );
    expect(await fails(dir.dir, "export", "--storage", storage, "--out", out)).toBe(
      `reqtrack: --out ${out}: ${dir.file("plain.txt")} is not a folder (create it first)`,
    );
  }, 60_000);

  it("prints the database's own error when a migration fails", async () => {
    const storage = dir.file("half-migrated.db");
    const tracker = await createTracker({ storage, logger: silentLogger(), watchdogIntervalMs: 0 });
    await tracker.close();
    // The file forgets it applied migration 19, whose index is still there: re-running it fails.
    const db = new Database(storage);
    db.prepare("DELETE FROM schema_migrations WHERE version = 19").run();
    db.close();
    for (const command of [["migrate"], ["serve", "--port", "0"]]) {
      expect(await fails(dir.dir, ...command, "--storage", storage)).toBe(
        "reqtrack: Migration 19 (rolling_windows) failed: index requests_deleted already exists",
      );
    }
  }, 60_000);

  it("names the file that is not a SQLite database", async () => {
    const storage = dir.file("corrupt.db");
    writeFileSync(storage, `SQLite format 3\0${"garbage ".repeat(600)}`);
    for (const command of [["migrate"], ["keys", "list"], ["serve", "--port", "0"], ["demo"]]) {
      expect(await fails(dir.dir, ...command, "--storage", storage), command[0]).toBe(
        `reqtrack: cannot open ${storage}: file is not a database`,
      );
    }
  }, 60_000);
});
