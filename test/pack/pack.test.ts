import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import semver from "semver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsc = join(root, "node_modules/typescript/bin/tsc");
/** The oldest Node the package supports (its `engines`). */
const OLDEST_NODE = "20.19.0";

const readme = readFileSync(join(root, "README.md"), "utf8");
const example = /```ts\n([\s\S]*?)```/.exec(
  readme.slice(readme.indexOf("## Library example")),
)?.[1];

/** Runs a script of the consumer on a fresh store (the example writes data/requests.db). */
function runExample(consumerDir: string, script: string): string[] {
  rmSync(join(consumerDir, "data"), { recursive: true, force: true });
  const output = execFileSync(process.execPath, [script], {
    cwd: consumerDir,
    env: { ...process.env, REQTRACK_LOG_LEVEL: "warn" },
    encoding: "utf8",
  });
  return output.trim().split("\n");
}

const expected = [
  /^completed \d+ \d+ 0\.0045 1$/,
  /^1 request_created,status_changed,stage_started,api_call,stage_completed,status_changed$/,
];

/**
 * What a user gets from `npm install reqtrack`: the packed tarball (of the built dist/, as
 * `npm test` builds first) installed into an empty project, then the README's example run
 * as JavaScript and compiled with `tsc --strict` as TypeScript.
 */
describe("the packed package in a fresh consumer", () => {
  const consumer = tempDir("reqtrack-consumer-");
  let installOutput = "";

  beforeAll(() => {
    const packed = JSON.parse(
      execFileSync(
        "npm",
        ["pack", "--json", "--ignore-scripts", "--pack-destination", consumer.dir],
        {
          cwd: root,
          encoding: "utf8",
        },
      ),
    ) as { filename: string; files: { path: string }[] }[];
    const tarball = join(consumer.dir, packed[0]?.filename ?? "");
    writeFileSync(
      consumer.file("package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" }),
    );
    // Scripts are off: better-sqlite3's would fetch a prebuilt binary or compile one. The
    // addon this checkout built (same Node, same better-sqlite3 version) is copied in instead.
    const install = spawnSync(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        tarball,
        "@types/node@20",
      ],
      { cwd: consumer.dir, encoding: "utf8", env: { ...process.env, npm_config_loglevel: "warn" } },
    );
    installOutput = `${install.stdout}\n${install.stderr}`;
    expect(install.status, installOutput).toBe(0);
    const addon = "node_modules/better-sqlite3/build/Release/better_sqlite3.node";
    execFileSync("mkdir", ["-p", consumer.file("node_modules/better-sqlite3/build/Release")]);
    copyFileSync(join(root, addon), consumer.file(addon));
  }, 120_000);
  afterAll(() => consumer.cleanup());

  it("installs without EBADENGINE, every dependency supporting Node 20.19", () => {
    expect(installOutput).not.toMatch(/EBADENGINE/);
    const lock = JSON.parse(readFileSync(consumer.file("package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
    };
    const tooNew = Object.entries(lock.packages)
      .filter(([path, p]) => {
        const range = !Array.isArray(p.engines) ? p.engines?.node : undefined;
        return path !== "" && range && !semver.satisfies(OLDEST_NODE, range);
      })
      .map(([path, p]) => `${path}@${p.version} needs node ${JSON.stringify(p.engines)}`);
    expect(tooNew).toEqual([]);
  });

  it("ships no source maps and no sources, with a LICENSE", () => {
    const files = readdirSync(consumer.file("node_modules/reqtrack"), { recursive: true }).map(
      String,
    );
    expect(files).toContain("LICENSE");
    expect(files.filter((f) => f.endsWith(".map"))).toEqual([]);
    expect(files.filter((f) => f.startsWith("src"))).toEqual([]);
  });

  it("runs the README's example as an .mjs file", () => {
    expect(example, "README has a ```ts block under ## Library example").toBeDefined();
    writeFileSync(consumer.file("example.mjs"), example as string);
    const lines = runExample(consumer.dir, "example.mjs");
    expect(lines).toHaveLength(2);
    lines.forEach((line, i) => expect(line).toMatch(expected[i] as RegExp));
  });

  it("compiles the README's example with tsc --strict (NodeNext) and runs it", () => {
    writeFileSync(consumer.file("example.ts"), example as string);
    writeFileSync(
      consumer.file("tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          types: ["node"],
          outDir: "out",
        },
        files: ["example.ts"],
      }),
    );
    const compiled = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json"], {
      cwd: consumer.dir,
      encoding: "utf8",
    });
    expect(compiled.status, `${compiled.stdout}${compiled.stderr}`).toBe(0);
    const lines = runExample(consumer.dir, "out/example.js");
    expect(lines).toHaveLength(2);
    lines.forEach((line, i) => expect(line).toMatch(expected[i] as RegExp));
  }, 120_000); // tsc --strict on a whole consumer: tens of seconds on a loaded machine
});
