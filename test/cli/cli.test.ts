import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { serve } from "../../src/server/serve.js";
import { silentLogger, tempDir } from "../support/helpers.js";
import { describePostgres } from "../support/postgres.js";

const execFileAsync = promisify(execFile);
const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
// By URL, so the CLI also runs with a working directory outside the repository.
const tsx = new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;
const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** Runs the CLI; never throws, so failures can be asserted on. */
async function run(...args: string[]) {
  return runIn(undefined, ...args);
}

/** `run` with extra environment variables (e.g. COLUMNS). */
async function runWith(env: Record<string, string>, ...args: string[]) {
  return runInEnv(undefined, env, ...args);
}

/** Runs the CLI in `cwd`, where a relative path it wrongly takes as a file would appear. */
async function runIn(cwd: string | undefined, ...args: string[]) {
  return runInEnv(cwd, {}, ...args);
}

/** Runs the CLI in `cwd` with extra environment variables. */
async function runInEnv(cwd: string | undefined, env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      ["--import", tsx, cli, ...args],
      {
        cwd,
        env: { ...process.env, REQTRACK_URL: "", REQTRACK_KEY: "", NO_COLOR: "1", ...env },
        // A `serve` that took the string would listen until killed: stop it, and fail below.
        timeout: 60_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A store with `n` requests across two tenants, some with stages, costs and failures. */
async function seed(storage: string, n: number, postgres?: { schema: string }) {
  const tracker = await createTracker({
    storage,
    ...(postgres ? { postgres } : {}),
    watchdogIntervalMs: 0,
    logger: silentLogger(),
  });
  for (let i = 0; i < n; i++) {
    const req = await tracker.createRequest({
      userId: `user-${i % 3}`,
      tenantId: i % 2 ? "north" : "south",
      kind: "video_generation",
      tags: ["t"],
    });
    if (i % 4 === 3) continue;
    await tracker.startRequest(req, "w1");
    await tracker.startStage(req, "render");
    await tracker.recordCost(req, { service: "veo", amountUsd: 0.25, stage: "render" });
    if (i % 4 === 2) {
      await tracker.failStage(req, "render", { message: "boom", retryable: true });
      await tracker.failRequest(req, { message: "boom", stage: "render" });
    } else {
      await tracker.completeStage(req, "render", { ok: i });
      await tracker.logEvent(req, { type: "note", message: `n${i}` });
      await tracker.increment(req, "tool_calls", 2);
      await tracker.completeRequest(req, { url: `u${i}` });
    }
  }
  await tracker.close();
}

const oneLine = (text: string) => {
  expect(text.trim().split("\n")).toHaveLength(1);
  expect(text).not.toMatch(/\n\s+at /);
};

describe("reqtrack CLI", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  it("prints its version and lists every command in --help", async () => {
    expect((await run("--version")).stdout.trim()).toBe(pkg.version);
    const help = await run("--help");
    for (const name of ["serve", "keys", "requests", "stats", "costs", "tail", "export", "import"])
      expect(help.stdout).toContain(name);
  });

  it("answers bad input with one line and a non-zero exit, and reading creates no store", async () => {
    const missing = dir.file("missing.db");
    for (const args of [
      ["requests", "list", "--bogus"],
      ["requests", "list", "--storage", missing],
      ["keys", "list", "--storage", missing],
      ["stats", "--storage", "mysql://db/x"],
      ["import", dir.file("nope.ndjson"), "--storage", dir.file("x.db")],
      ["requests", "list", "--url", "http://127.0.0.1:1"],
      ["requests", "list", "--limit", "lots", "--storage", missing],
    ]) {
      const result = await run(...args);
      expect(result.code, args.join(" ")).not.toBe(0);
      oneLine(result.stderr);
    }
    expect(existsSync(missing)).toBe(false);
    expect((await run("requests", "list", "--storage", missing)).stderr).toContain(missing);
  });

  it("refuses a storage string that is neither a file path nor postgres://, and creates nothing", async () => {
    const empty = dir.file("empty.ndjson");
    writeFileSync(empty, "");
    const mysql = "mysql://db/x";
    for (const args of [
      ["stats", "--storage", mysql],
      ["migrate", "--storage", mysql],
      ["keys", "create", "--role", "admin", "--storage", mysql],
      ["import", empty, "--storage", mysql],
      ["demo", "--storage", mysql],
      ["serve", "--port", "0", "--storage", mysql],
    ]) {
      const result = await runIn(dir.dir, ...args);
      expect(result.code, args.join(" ")).toBe(1);
      oneLine(result.stderr);
      expect(result.stderr, args.join(" ")).toContain(
        "--storage must be a SQLite file path or a postgres:// URL, not mysql://...",
      );
      // As a path, `mysql://db/x` is the folder `mysql:` holding `db/x`, with SQLite's -wal.
      expect(existsSync(join(dir.dir, "mysql:")), args.join(" ")).toBe(false);
      expect(readdirSync(dir.dir), args.join(" ")).toEqual(["empty.ndjson"]);
    }
  }, 120_000);

  it("lists with filters, shows one request, and prints stats and costs, locally and over --url", async () => {
    const storage = dir.file("a.db");
    await seed(storage, 8);
    const local = JSON.parse(
      (
        await run(
          "requests",
          "list",
          "--storage",
          storage,
          "--tenant",
          "south",
          "--status",
          "failed",
          "--json",
        )
      ).stdout,
    ) as { items: { id: string; tenantId: string; status: string }[] };
    expect(local.items.length).toBe(2);
    expect(local.items.every((r) => r.tenantId === "south" && r.status === "failed")).toBe(true);

    const tracker = await createTracker({ storage, watchdogIntervalMs: 0, logger: silentLogger() });
    const admin = await tracker.keys.create({ role: "admin" });
    const server = await serve({ tracker, host: "127.0.0.1", port: 0 });
    try {
      const remote = JSON.parse(
        (
          await run(
            "requests",
            "list",
            "--url",
            server.url,
            "--key",
            admin.key,
            "--tenant",
            "south",
            "--status",
            "failed",
            "--json",
          )
        ).stdout,
      ) as typeof local;
      expect(remote.items.map((r) => r.id)).toEqual(local.items.map((r) => r.id));
      const id = local.items[0]!.id;
      const shown = await run("requests", "show", id, "--url", server.url, "--key", admin.key);
      expect(shown.stdout).toContain("render");
      expect(shown.stdout).toContain("boom");
      const wrongKey = await run("requests", "list", "--url", server.url, "--key", "rt_wrong");
      expect(wrongKey.code).not.toBe(0);
      oneLine(wrongKey.stderr);
      expect(wrongKey.stderr).toContain("401");
      const stats = await run("stats", "--url", server.url, "--key", admin.key, "--json");
      expect((JSON.parse(stats.stdout) as { total: number }).total).toBe(8);
      const costs = await run("costs", "--url", server.url, "--key", admin.key);
      expect(costs.stdout).toContain("veo");
    } finally {
      await server.close();
    }
  });

  it("exports, imports into an empty store, and a second import changes nothing", async () => {
    const source = dir.file("src.db");
    await seed(source, 12);
    const to = new Date(Date.now() + 60_000).toISOString();
    expect(
      (await run("export", "--storage", source, "--out", dir.file("a.ndjson"), "--to", to)).code,
    ).toBe(0);
    const target = dir.file("dst.db");
    expect((await run("import", dir.file("a.ndjson"), "--storage", target)).code).toBe(0);
    await run("export", "--storage", target, "--out", dir.file("b.ndjson"), "--to", to);
    expect(readFileSync(dir.file("b.ndjson"), "utf8")).toBe(
      readFileSync(dir.file("a.ndjson"), "utf8"),
    );
    expect((await run("import", dir.file("a.ndjson"), "--storage", target)).code).toBe(0);
    await run("export", "--storage", target, "--out", dir.file("c.ndjson"), "--to", to);
    expect(readFileSync(dir.file("c.ndjson"), "utf8")).toBe(
      readFileSync(dir.file("a.ndjson"), "utf8"),
    );
    const csv = await run("export", "--storage", source, "--format", "csv", "--to", to);
    expect(csv.stdout.trim().split("\n")).toHaveLength(13);
  });

  it("resumes an export killed with SIGKILL and ends with the same file as an uninterrupted one", async () => {
    const storage = dir.file("big.db");
    await seed(storage, 600);
    const to = new Date(Date.now() + 60_000).toISOString();
    const out = dir.file("k.ndjson");
    const exportArgs = [
      "export",
      "--storage",
      storage,
      "--out",
      out,
      "--to",
      to,
      "--page-size",
      "10",
    ];
    const child = spawn(process.execPath, ["--import", "tsx", cli, ...exportArgs], {
      stdio: "ignore",
    });
    // Killed as soon as it has recorded a page: the checkpoint file is the signal, not a delay.
    while (!existsSync(`${out}.checkpoint`)) await new Promise((r) => setImmediate(r));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const resumed = await run(...exportArgs);
    expect(resumed.stderr).toContain("Resuming after");
    await run("export", "--storage", storage, "--out", dir.file("clean.ndjson"), "--to", to);
    expect(readFileSync(out, "utf8")).toBe(readFileSync(dir.file("clean.ndjson"), "utf8"));
    expect(existsSync(`${out}.checkpoint`)).toBe(false);
  }, 120_000);
});

describe("reqtrack CLI: search, table width, filtered export, progress", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  type Page = { items: { id: string; userId: string; tenantId: string; createdAt: string }[] };

  it("searches by user, tenant or tag, locally and over --url, with the same answer", async () => {
    const storage = dir.file("s.db");
    await seed(storage, 9);
    const search = async (...args: string[]) =>
      JSON.parse((await run("requests", "search", ...args, "--json")).stdout) as Page;
    const byUser = await search("user-1", "--storage", storage);
    // Users cycle user-0, user-1, user-2: three of nine are user-1's.
    expect(byUser.items).toHaveLength(3);
    expect(byUser.items.every((r) => r.userId === "user-1")).toBe(true);
    expect((await search("north", "--storage", storage)).items).toHaveLength(4);
    expect((await search("nobody", "--storage", storage)).items).toHaveLength(0);
    const tracker = await createTracker({ storage, watchdogIntervalMs: 0, logger: silentLogger() });
    const admin = await tracker.keys.create({ role: "admin" });
    const server = await serve({ tracker, host: "127.0.0.1", port: 0 });
    try {
      const remote = await search("user-1", "--url", server.url, "--key", admin.key);
      expect(remote.items.map((r) => r.id)).toEqual(byUser.items.map((r) => r.id));
      const id = byUser.items[0]!.id;
      const shown = await run("requests", "search", id, "--url", server.url, "--key", admin.key);
      expect(shown.stdout).toContain(id);
      expect(shown.stdout).toContain("user-1");
    } finally {
      await server.close();
    }
  });

  it("fits the list to COLUMNS: no line wider, and a wide terminal shows more columns", async () => {
    const storage = dir.file("w.db");
    await seed(storage, 4);
    const narrow = await runWith({ COLUMNS: "60" }, "requests", "list", "--storage", storage);
    const wide = await runWith({ COLUMNS: "200" }, "requests", "list", "--storage", storage);
    const table = (out: string) => out.trim().split("\n").slice(0, -1); // last line: "n of m"
    for (const line of table(narrow.stdout)) expect(line.length, line).toBeLessThanOrEqual(60);
    const header = (out: string) => table(out)[0]!.split(/\s+/);
    expect(header(narrow.stdout).length).toBeLessThan(header(wide.stdout).length);
    expect(header(wide.stdout)).toContain("error");
    // The id stays whole, to copy.
    expect(table(narrow.stdout)[2]).toMatch(/^req_[0-9a-f-]{36} /);
  });

  it("exports only the tenant and period asked for, locally and over --url, and imports over --url", async () => {
    const storage = dir.file("e.db");
    await seed(storage, 6);
    const middle = new Date(Date.now()).toISOString();
    await seed(storage, 6);
    const end = new Date(Date.now() + 60_000).toISOString();
    const all = JSON.parse(
      (await run("requests", "list", "--storage", storage, "--limit", "100", "--json")).stdout,
    ) as Page;
    const expected = all.items
      .filter((r) => r.tenantId === "north" && r.createdAt >= middle)
      .map((r) => r.id)
      .sort();
    expect(expected).toHaveLength(3);
    const ids = (ndjson: string) =>
      ndjson
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { request: { id: string } }).request.id)
        .sort();
    const filter = ["--tenant", "north", "--from", middle, "--to", end];
    const local = await run("export", "--storage", storage, ...filter);
    expect(ids(local.stdout)).toEqual(expected);
    const tracker = await createTracker({ storage, watchdogIntervalMs: 0, logger: silentLogger() });
    const admin = await tracker.keys.create({ role: "admin" });
    const server = await serve({ tracker, host: "127.0.0.1", port: 0 });
    const target = await createTracker({
      storage: dir.file("t.db"),
      watchdogIntervalMs: 0,
      logger: silentLogger(),
    });
    const targetAdmin = await target.keys.create({ role: "admin" });
    const targetServer = await serve({ tracker: target, host: "127.0.0.1", port: 0 });
    try {
      const remote = await run("export", "--url", server.url, "--key", admin.key, ...filter);
      expect(remote.code).toBe(0);
      expect(ids(remote.stdout)).toEqual(expected);
      const file = dir.file("r.ndjson");
      writeFileSync(file, remote.stdout);
      const over = ["--url", targetServer.url, "--key", targetAdmin.key];
      expect((await run("import", file, ...over)).code).toBe(0);
      const back = await run("export", ...over, "--to", end);
      expect(back.stdout).toBe(remote.stdout);
    } finally {
      await server.close();
      await targetServer.close();
    }
  });

  it("draws the progress bar with done/total and an ETA on stderr when --progress forces it", async () => {
    const storage = dir.file("p.db");
    await seed(storage, 7);
    const to = new Date(Date.now() + 60_000).toISOString();
    const out = dir.file("p.ndjson");
    const exported = await run(
      "export",
      "--storage",
      storage,
      "--out",
      out,
      "--to",
      to,
      "--progress",
      "--page-size",
      "3",
    );
    expect(exported.stderr).toMatch(/export \[#+\] 7\/7 100% \d+\/s ETA 0m00s/);
    const quiet = await run("export", "--storage", storage, "--to", to);
    expect(quiet.stderr).not.toContain("ETA");
    const imported = await run("import", out, "--storage", dir.file("q.db"), "--progress");
    expect(imported.code).toBe(0);
    expect(imported.stderr).toMatch(/import \[#+\] 7\/7 100% \d+\/s ETA 0m00s/);
    // The first draw, before any row is sent, already knows the total from the file.
    expect(imported.stderr).toMatch(/import \[\.+\] 0\/7 0%/);
  });
});

describePostgres("reqtrack CLI on PostgreSQL", (url) => {
  it("exports from and imports into PostgreSQL schemas, twice without change", async () => {
    const dir = tempDir();
    try {
      const suffix = Math.random().toString(36).slice(2, 8);
      const from = `cli_src_${suffix}`;
      const into = `cli_dst_${suffix}`;
      await seed(url, 6, { schema: from });
      const to = new Date(Date.now() + 60_000).toISOString();
      const a = dir.file("a.ndjson");
      expect(
        (await run("export", "--storage", url, "--schema", from, "--out", a, "--to", to)).code,
      ).toBe(0);
      for (let i = 0; i < 2; i++)
        expect((await run("import", a, "--storage", url, "--schema", into)).code).toBe(0);
      const b = dir.file("b.ndjson");
      await run("export", "--storage", url, "--schema", into, "--out", b, "--to", to);
      expect(readFileSync(b, "utf8")).toBe(readFileSync(a, "utf8"));
      const pg = (await import("pg")).default;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA ${from} CASCADE; DROP SCHEMA ${into} CASCADE`);
      await client.end();
    } finally {
      dir.cleanup();
    }
  }, 120_000);
});
