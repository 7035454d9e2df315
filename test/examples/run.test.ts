import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/helpers.js";

const runner = fileURLToPath(new URL("../../examples/run.ts", import.meta.url));
const tsx = new URL("../../node_modules/tsx/dist/esm/index.mjs", import.meta.url).href;
const NAMES = ["chat-lanes", "video-bot", "content-pipeline", "agent-crew", "rag-api"];

/** Whether nothing listens on `port` any more (so no orphan kept it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** `npm run example -- <name>` as its script runs it, in its own process group. */
function start(name: string, port: number, cwd: string) {
  const child = spawn(process.execPath, ["--import", tsx, runner, name], {
    cwd,
    detached: true,
    env: { ...process.env, PORT: String(port) },
  });
  let stdout = "";
  let stderr = "";
  const printed = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes("Ctrl-C to stop.")) resolve(stdout);
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("exit", (code) =>
      reject(new Error(`${name} exited (${code}) before running:\n${stderr}`)),
    );
  });
  printed.catch(() => undefined); // awaited by the test; a late exit is not unhandled
  return { child, printed };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once("exit", r));
  process.kill(-child.pid, "SIGTERM");
  await exited;
}

describe("npm run example -- <name>", () => {
  const dir = tempDir();
  const running: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(running.map(stop));
    dir.cleanup();
  });

  it("starts each of the five, prints URLs that answer 200, and leaves no port open after SIGTERM", async () => {
    // Each example takes PORT, PORT + 1 and PORT + 100; bases 10 apart never overlap.
    const base = 17600;
    const started = NAMES.map((name, i) => ({
      name,
      port: base + 10 * i,
      ...start(name, base + 10 * i, dir.dir),
    }));
    running.push(...started.map((s) => s.child));
    for (const s of started) {
      const text = await s.printed;
      expect(text).toContain(`reqtrack example ${s.name} is running`);
      // What to open: the dashboard and the API links (curl and POST routes are for a shell).
      const block = text.split(" is running")[1]?.split("Ctrl-C")[0] ?? "";
      const urls = block
        .split("\n")
        .filter((line) => !/POST|same routes/.test(line) && /^\s+(dashboard|.*\/api\/)/.test(line))
        .flatMap((line) => line.match(/https?:\/\/[^\s)]+/g) ?? []);
      expect(urls.length, s.name).toBeGreaterThan(0);
      for (const url of urls) expect((await fetch(url)).status, `${s.name} ${url}`).toBe(200);
    }
    await Promise.all(started.map((s) => stop(s.child)));
    for (const s of started) {
      for (const port of [s.port, s.port + 1, s.port + 100])
        expect(await portFree(port), `${s.name} port ${port}`).toBe(true);
    }
  }, 90_000);
});
