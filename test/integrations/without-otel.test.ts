import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDir } from "../support/helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("without @opentelemetry/api", () => {
  it("works as before, loads nothing of it, and enableOpenTelemetry() says what to install", () => {
    const dir = tempDir();
    try {
      const out = execFileSync(
        process.execPath,
        ["--import", "tsx", "test/fixtures/without-otel.ts", dir.file("tried.log")],
        { cwd: root, encoding: "utf8" },
      );
      const result = JSON.parse(out.trim().split("\n").pop() as string);
      expect(result).toMatchObject({
        status: 200,
        tracked: "completed",
        costUsd: 0.001,
        breaker: 1,
        triedBefore: "",
        triedAfter: "@opentelemetry/api\n",
        code: "RT_ERR_MISSING_DEPENDENCY",
        message:
          'enableOpenTelemetry() needs the optional package "@opentelemetry/api": npm install @opentelemetry/api',
      });
    } finally {
      dir.cleanup();
    }
  });
});
