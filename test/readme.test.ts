import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { REQUEST_STATUSES } from "../src/core/types.js";
import { tempDir } from "./support/helpers.js";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("README", () => {
  it("shows the two quickstart commands", () => {
    const readme = readFileSync(`${root}/README.md`, "utf8");
    expect(readme).toContain("npm install && npm start");
    expect(readme).toContain("npm test");
  });

  it("names every status of the lifecycle and what better-sqlite3 needs to build", () => {
    const readme = readFileSync(`${root}/README.md`, "utf8");
    const intro = readme.slice(0, readme.indexOf("## Quickstart"));
    for (const status of REQUEST_STATUSES) expect(intro).toContain(`${status}`);
    const quickstart = readme.slice(readme.indexOf("## Quickstart"), readme.indexOf("## Library"));
    for (const need of [/python3/, /\bmake\b/, /C\+\+\s+compiler/])
      expect(quickstart).toMatch(need);
  });

  it("has a library example that runs as written against the built package", () => {
    const readme = readFileSync(`${root}/README.md`, "utf8");
    const section = readme.slice(readme.indexOf("## Library example"));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code, "README has a ```ts block under ## Library example").toBeDefined();
    // The example is plain JavaScript-compatible TypeScript; it imports "reqtrack" itself,
    // which resolves through package.json "exports" to dist/ (npm test builds first).
    const script = `${root}/.readme-example.mjs`;
    writeFileSync(script, code as string);
    const cwd = tempDir();
    try {
      const output = execFileSync(process.execPath, [script], {
        cwd: cwd.dir,
        env: { ...process.env, REQTRACK_LOG_LEVEL: "warn" },
        encoding: "utf8",
      });
      const lines = output.trim().split("\n");
      expect(lines[0]).toMatch(/^completed \d+ \d+ 0\.0045 1$/);
      expect(lines[1]).toBe(
        "1 request_created,status_changed,stage_started,api_call,stage_completed,status_changed",
      );
    } finally {
      rmSync(script, { force: true });
      cwd.cleanup();
    }
  });
});
