import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { tempDir } from "../support/helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const cli = `${root}/src/cli/main.ts`;

/** Collects a child's stderr and resolves the URL its banner prints. */
async function listeningUrl(child: ChildProcess): Promise<{ url: string; stderr: () => string }> {
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  await vi.waitFor(() => expect(stderr).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/), {
    timeout: 30_000,
    interval: 100,
  });
  return { url: /listening on (\S+)/.exec(stderr)?.[1] as string, stderr: () => stderr };
}

describe("shutdown", () => {
  it("ends connected SSE streams with a shutdown event at SIGTERM, and exits though the client stays", async () => {
    const dir = tempDir();
    let child: ChildProcess | undefined;
    try {
      child = spawn(
        process.execPath,
        ["--import", "tsx", cli, "serve", "--port", "0", "--storage", dir.file("sse.db")],
        {
          stdio: ["ignore", "ignore", "pipe"],
          env: { ...process.env, REQTRACK_LOG_LEVEL: "error" },
        },
      );
      const { url } = await listeningUrl(child);
      // A raw client that never closes its side: only the server can end this stream.
      let received = "";
      let ended = false;
      const req = request(`${url}/api/v1/stream`, { agent: false }, (res) => {
        res.setEncoding("utf8").on("data", (chunk: string) => {
          received += chunk;
        });
        res.on("end", () => {
          ended = true;
        });
      });
      req.on("error", () => undefined);
      req.end();
      await vi.waitFor(() => expect(received).toContain("retry:"), { timeout: 10_000 });
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
      expect(received).toMatch(
        /event: shutdown\ndata: \{"type":"shutdown","reason":"server_shutdown","reconnect":true/,
      );
      await vi.waitFor(() => expect(ended).toBe(true));
      req.destroy();
    } finally {
      if (child && child.exitCode === null) child.kill("SIGKILL");
      dir.cleanup();
    }
  }, 60_000);

  it("npm start leaves no server behind when npm is killed (the script execs node)", async () => {
    const dir = tempDir();
    let child: ChildProcess | undefined;
    try {
      child = spawn("npm", ["start", "--silent"], {
        cwd: root,
        stdio: ["ignore", "ignore", "pipe"],
        env: {
          ...process.env,
          REQTRACK_STORAGE: dir.file("start.db"),
          PORT: "0",
          REQTRACK_LOG_LEVEL: "error",
        },
      });
      const { url } = await listeningUrl(child);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
      // The server itself got the signal and shut down: its port stops answering.
      await vi.waitFor(
        async () => {
          await expect(fetch(`${url}/healthz`)).rejects.toThrow();
        },
        { timeout: 20_000, interval: 200 },
      );
    } finally {
      if (child && child.exitCode === null) child.kill("SIGKILL");
      dir.cleanup();
    }
  }, 60_000);
});
