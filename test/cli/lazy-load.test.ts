import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir } from "../support/helpers.js";

/**
 * `--help` and `--version` are instant because commands load lazily: shown by what the built
 * CLI loads (a resolve hook records every module), not by a timer. Needs `npm run build`.
 */
const cli = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const recorder = fileURLToPath(new URL("../support/load-recorder.mjs", import.meta.url));
const run = promisify(execFile);

/** What loading Fastify, SQLite, PostgreSQL, the server or the tracker looks like. */
const HEAVY = {
  fastify: /\/node_modules\/fastify\//,
  "better-sqlite3": /\/node_modules\/better-sqlite3\//,
  pg: /\/node_modules\/pg\//,
  pino: /\/node_modules\/pino\//,
  server: /\/dist\/server\//,
  tracker: /\/dist\/tracker\//,
};

describe("the CLI's lazy loading", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  /** Runs the built CLI with the recorder; answers the URLs of every module it loaded. */
  async function loaded(...args: string[]): Promise<{ stdout: string; urls: string[] }> {
    const record = dir.file(`loaded-${args.join("_").replace(/\W+/g, "")}.txt`);
    const { stdout } = await run(process.execPath, ["--import", recorder, cli, ...args], {
      env: { ...process.env, REQTRACK_LOAD_RECORD: record, REQTRACK_STORAGE: "" },
    });
    return { stdout, urls: readFileSync(record, "utf8").trim().split("\n") };
  }
  const heavyIn = (urls: string[]) =>
    Object.entries(HEAVY)
      .filter(([, pattern]) => urls.some((url) => pattern.test(url)))
      .map(([name]) => name);

  it.each(["--help", "--version", "serve --help"])(
    "%s loads neither Fastify, SQLite, pg, pino, the server nor the tracker",
    async (command) => {
      const { stdout, urls } = await loaded(...command.split(" "));
      expect(stdout).not.toBe("");
      // The record holds the CLI itself and commander: it saw the process load modules.
      expect(urls.some((url) => url.endsWith("/dist/cli/main.js"))).toBe(true);
      expect(urls.some((url) => /\/node_modules\/commander\//.test(url))).toBe(true);
      expect(heavyIn(urls)).toEqual([]);
    },
  );

  it("records them when a command does open a store (the recorder sees what it must)", async () => {
    const { urls } = await loaded("migrate", "--storage", dir.file("lazy.db"));
    expect(heavyIn(urls)).toEqual(expect.arrayContaining(["better-sqlite3", "tracker"]));
  });
});
