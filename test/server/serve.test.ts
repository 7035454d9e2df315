import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEMO_KINDS } from "../../src/cli/commands/demo-trickle.js";
import { createTracker } from "../../src/index.js";
import { serve } from "../../src/server/serve.js";
import { SQLITE_MIGRATIONS } from "../../src/store/migrations/sqlite.js";
import { hashSecret } from "../../src/tracker/api-keys.js";
import { captureLogger, tempDir } from "../support/helpers.js";

const run = promisify(execFile);
const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

describe("serve and keys", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  it("runs open on loopback without keys, and refuses any other address until a key exists", async () => {
    const storage = dir.file("serve.db");
    let tracker = await createTracker({ storage, logger: captureLogger("error").logger });
    await expect(serve({ tracker, host: "0.0.0.0", port: 0 })).rejects.toMatchObject({
      code: "RT_ERR_VALIDATION",
      field: "host",
    });
    const server = await serve({ tracker, host: "127.0.0.1", port: 0 });
    expect(server.open).toBe(true);
    const created = await fetch(`${server.url}/api/v1/requests`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId: "u" }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await server.close();

    // Graceful shutdown flushed and closed the store: the request is there after a restart.
    tracker = await createTracker({ storage, logger: captureLogger("error").logger });
    expect((await tracker.getRequest(id))?.status).toBe("pending");
    await tracker.keys.create({ role: "admin" });
    const guarded = await serve({ tracker, host: "0.0.0.0", port: 0 });
    expect(guarded.open).toBe(false);
    const port = new URL(guarded.url).port;
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/requests`)).status).toBe(401);
    await guarded.close();
  });

  it("creates keys whose secret is shown once and stored only as SHA-256; lists and revokes them", async () => {
    const storage = dir.file("keys.db");
    const exec = (...args: string[]) =>
      run(process.execPath, ["--import", "tsx", cli, "keys", ...args, "--storage", storage]);
    const { stdout } = await exec(
      "create",
      "--role",
      "writer",
      "--tenant",
      "guild-42",
      "--name",
      "bot",
      "--json",
    );
    const created = JSON.parse(stdout) as {
      id: string;
      key: string;
      role: string;
      tenantId: string;
    };
    expect(created).toMatchObject({
      role: "writer",
      tenantId: "guild-42",
      id: expect.stringMatching(/^key_/),
    });
    expect(created.key).toMatch(/^rt_[A-Za-z0-9_-]{32,}$/);

    const tracker = await createTracker({ storage, logger: captureLogger("error").logger });
    const verified = await tracker.keys.verify(created.key);
    expect(verified).toMatchObject({ id: created.id, role: "writer", tenantId: "guild-42" });
    const db = (
      tracker.store as unknown as {
        db: { prepare(sql: string): { all(): Record<string, unknown>[] } };
      }
    ).db;
    const rows = db.prepare("SELECT * FROM api_keys").all();
    expect(rows[0]?.hash).toBe(hashSecret(created.key));
    expect(JSON.stringify(rows)).not.toContain(created.key);
    await tracker.close();

    const listed = JSON.parse((await exec("list", "--json")).stdout) as { id: string }[];
    expect(listed.map((k) => k.id)).toEqual([created.id]);
    expect(JSON.stringify(listed)).not.toContain(created.key);
    expect((await exec("revoke", created.id)).stdout).toContain("Revoked");
    const after = await createTracker({ storage, logger: captureLogger("error").logger });
    expect(await after.keys.verify(created.key)).toBeNull();
    await after.close();
    await expect(exec("create", "--role", "writer")).rejects.toMatchObject({
      stderr: expect.stringContaining("tenant"),
    });
  }, 30_000);
});

describe("reqtrack migrate", () => {
  it("migrates a database and prints its version; refuses one newer than it knows", async () => {
    const dir = tempDir();
    try {
      const storage = dir.file("migrate.db");
      const { stdout } = await run(process.execPath, [
        "--import",
        "tsx",
        cli,
        "migrate",
        "--storage",
        storage,
      ]);
      const latest = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));
      expect(stdout.trim()).toBe(`sqlite schema at version ${latest}`);
      const db = new Database(storage);
      db.prepare("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)").run();
      db.close();
      const refused = await run(process.execPath, [
        "--import",
        "tsx",
        cli,
        "migrate",
        "--storage",
        storage,
      ]).catch((error: { code: number; stderr: string }) => error);
      expect(refused).toMatchObject({
        code: 1,
        stderr: expect.stringContaining("schema version 999"),
      });
    } finally {
      dir.cleanup();
    }
  }, 30_000);
});

describe("reqtrack serve's banner", () => {
  it("shows the Authorization header in its curl line when keys exist", async () => {
    const dir = tempDir();
    let child: ReturnType<typeof spawn> | undefined;
    try {
      const storage = dir.file("keyed.db");
      const tracker = await createTracker({
        storage,
        logger: captureLogger("error").logger,
        watchdogIntervalMs: 0,
      });
      const { key } = await tracker.keys.create({ role: "viewer", tenantId: "guild-42" });
      await tracker.close();
      child = spawn(
        process.execPath,
        ["--import", "tsx", cli, "serve", "--port", "0", "--storage", storage],
        {
          stdio: ["ignore", "ignore", "pipe"],
          env: { ...process.env, REQTRACK_LOG_LEVEL: "error" },
        },
      );
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
      });
      await vi.waitFor(() => expect(stderr).toContain("metrics:"), { timeout: 20_000 });
      const line = /live: +(curl .*)/.exec(stderr)?.[1] as string;
      expect(line).toMatch(
        /^curl -N -H "Authorization: Bearer \$REQTRACK_KEY" http:\/\/127\.0\.0\.1:\d+\/api\/v1\/stream$/,
      );
      // The line works as printed once REQTRACK_KEY is set: the header it names opens the stream.
      const url = /(http\S+)$/.exec(line)?.[1] as string;
      const controller = new AbortController();
      const opened = await fetch(url, {
        headers: { authorization: `Bearer ${key}` },
        signal: controller.signal,
      });
      expect(opened.status).toBe(200);
      controller.abort();
      expect((await fetch(url)).status).toBe(401);
      child.kill("SIGTERM");
      await once(child, "exit");
    } finally {
      if (child && child.exitCode === null) child.kill("SIGKILL");
      dir.cleanup();
    }
  }, 60_000);
});

describe("reqtrack serve --demo (npm start)", () => {
  it("prints its URL and how to get a key, feeds demo requests, and shuts down cleanly on SIGTERM", async () => {
    const dir = tempDir();
    let child: ReturnType<typeof spawn> | undefined;
    try {
      const storage = dir.file("demo.db");
      child = spawn(
        process.execPath,
        ["--import", "tsx", cli, "serve", "--demo", "--port", "0", "--storage", storage],
        {
          stdio: ["ignore", "ignore", "pipe"],
          env: { ...process.env, REQTRACK_LOG_LEVEL: "error" },
        },
      );
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
      });
      // The two lines may come in separate chunks: wait for both.
      await vi.waitFor(
        () => {
          expect(stderr).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
          expect(stderr).toContain("keys create --role admin");
        },
        { timeout: 20_000 },
      );
      const url = /listening on (\S+)/.exec(stderr)?.[1] as string;
      // Without keys the curl line needs no header.
      expect(stderr).toContain(`live:       curl -N ${url}/api/v1/stream\n`);
      // The banner says the demo keeps to its own kinds, and names each of them.
      await vi.waitFor(() => expect(stderr).toContain("requests you create are left"), {
        timeout: 20_000,
      });
      const claims =
        /Its worker claims only its own kinds \(([^)]*)\); requests you create are left for your workers\./.exec(
          stderr,
        );
      expect(claims?.[1]?.split(", ").sort()).toEqual([...DEMO_KINDS].sort());
      await vi.waitFor(
        async () => {
          const page = (await (await fetch(`${url}/api/v1/requests?tag=demo&limit=1`)).json()) as {
            total: number;
          };
          expect(page.total).toBeGreaterThan(0);
        },
        { timeout: 20_000, interval: 200 },
      );
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code).toBe(0);
      expect(stderr).toContain("SIGTERM: shutting down");
      const tracker = await createTracker({
        storage,
        logger: captureLogger("error").logger,
        watchdogIntervalMs: 0,
      });
      expect((await tracker.listRequests({ tag: "demo" })).total).toBeGreaterThan(0);
      expect(tracker.degraded).toBe(false);
      await tracker.close();
    } finally {
      // A failed expectation must not leave the server running.
      if (child && child.exitCode === null) child.kill("SIGKILL");
      dir.cleanup();
    }
  }, 60_000);
});
