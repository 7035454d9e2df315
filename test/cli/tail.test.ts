import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { serve } from "../../src/server/serve.js";
import { silentLogger, tempDir } from "../support/helpers.js";

const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const ESC = "\x1b";

/** Resolves once `read()` satisfies `done`, re-checked on each chunk (no timers). */
function until(stream: NodeJS.ReadableStream, read: () => string, done: (s: string) => boolean) {
  return new Promise<void>((resolve, reject) => {
    const check = () => {
      if (done(read())) {
        stream.off("data", check);
        resolve();
      }
    };
    stream.on("data", check);
    stream.once("end", () => reject(new Error(`stream ended before the match:\n${read()}`)));
    check();
  });
}

describe("reqtrack tail", () => {
  let dir: ReturnType<typeof tempDir>;
  let tracker: Tracker;
  beforeEach(async () => {
    dir = tempDir();
    tracker = await createTracker({
      storage: dir.file("t.db"),
      watchdogIntervalMs: 0,
      logger: silentLogger(),
    });
  });
  afterEach(async () => {
    await tracker.close();
    dir.cleanup();
  });

  it("follows the live stream, each status in its colour under FORCE_COLOR, and none under NO_COLOR", async () => {
    const server = await serve({ tracker, host: "127.0.0.1", port: 0 });
    const follow = (env: Record<string, string>) => {
      const child = spawn(process.execPath, ["--import", "tsx", cli, "tail", "--url", server.url], {
        env: { ...process.env, REQTRACK_URL: "", REQTRACK_KEY: "", NO_COLOR: "", ...env },
      });
      const out = { stdout: "", stderr: "" };
      child.stdout.on("data", (d: Buffer) => (out.stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out.stderr += d.toString()));
      return { child, out };
    };
    const coloured = follow({ FORCE_COLOR: "1" });
    const plain = follow({ FORCE_COLOR: "1", NO_COLOR: "1" });
    try {
      for (const t of [coloured, plain])
        await until(
          t.child.stderr,
          () => t.out.stderr,
          (s) => s.includes("Following"),
        );
      const done = await tracker.createRequest({ userId: "u", kind: "video_generation" });
      await tracker.startRequest(done.id);
      await tracker.completeRequest(done.id);
      const bad = await tracker.createRequest({ userId: "u", kind: "video_generation" });
      await tracker.startRequest(bad.id);
      await tracker.failRequest(bad.id, { message: "boom" });
      const colours = {
        pending: "90",
        running: "36",
        completed: "32",
        failed: "31",
      } as const;
      const line = (status: string, id: string, code: string) =>
        new RegExp(`${ESC}\\[${code}m${status} *${ESC}\\[0m ${id}`);
      await until(
        coloured.child.stdout,
        () => coloured.out.stdout,
        (s) => line("failed", bad.id, colours.failed).test(s),
      );
      for (const [status, code] of Object.entries(colours))
        expect(coloured.out.stdout).toMatch(
          line(status, status === "completed" ? done.id : bad.id, code),
        );
      expect(coloured.out.stdout).toMatch(line("pending", done.id, colours.pending));
      await until(
        plain.child.stdout,
        () => plain.out.stdout,
        (s) => s.includes(bad.id) && /failed/.test(s),
      );
      expect(plain.out.stdout).not.toContain(ESC);
      expect(plain.out.stdout).toMatch(new RegExp(`completed +${done.id}`));
    } finally {
      for (const t of [coloured, plain]) {
        const exited = new Promise((r) => t.child.once("exit", r));
        t.child.kill("SIGINT");
        await exited;
      }
      await server.close();
    }
  }, 60_000);
});
