import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { silentLogger, tempDir } from "../support/helpers.js";

const execFileAsync = promisify(execFile);
// The built CLI (npm test builds first): a spawn costs a fraction of running it through tsx.
const cli = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const env = { ...process.env, REQTRACK_URL: "", REQTRACK_KEY: "", NO_COLOR: "1" };

async function run(...args: string[]) {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [cli, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const open = (storage: string) =>
  createTracker({ storage, watchdogIntervalMs: 0, logger: silentLogger() });

/** `n` failed requests of kind `render`, and one completed one. */
async function seed(storage: string, n: number): Promise<string[]> {
  const tracker = await open(storage);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await tracker.createRequest({ userId: `u${i}`, kind: "render", tenantId: "acme" });
    await tracker.startRequest(r, "w1");
    await tracker.trackStage(r, "script", () => `script ${i}`);
    await tracker.failRequest(r, "GPU gone");
    ids.push(r.id);
  }
  const ok = await tracker.createRequest({ userId: "u", kind: "render", tenantId: "acme" });
  await tracker.startRequest(ok, "w1");
  await tracker.completeRequest(ok);
  await tracker.close();
  return ids;
}

/** How many live replays each original has. */
async function replayCounts(tracker: Tracker, ids: readonly string[]): Promise<number[]> {
  return Promise.all(ids.map(async (id) => (await tracker.replays.of(id)).length));
}

describe("reqtrack replay, prices and reprice", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  it("replays one request by id, from a stage", async () => {
    const storage = dir.file("one.db");
    const [id] = await seed(storage, 1);
    const result = await run(
      "replay",
      id as string,
      "--from-stage",
      "render",
      "--storage",
      storage,
    );
    expect(result.stderr).toMatch(/never ran stage render/);
    expect(result.code).toBe(1);
    const ok = await run("replay", id as string, "--json", "--storage", storage);
    expect(ok.code).toBe(0);
    const replay = JSON.parse(ok.stdout) as { id: string; replayOf: string; tags: string[] };
    expect(replay).toMatchObject({ replayOf: id, tags: ["replay"] });
  });

  it("a bulk replay killed with SIGKILL resumes where it stopped and replays nothing twice", async () => {
    const storage = dir.file("bulk.db");
    const ids = await seed(storage, 30);
    const args = ["replay", "--status", "failed", "--kind", "render", "--rate", "25"];
    const child = spawn(process.execPath, [cli, ...args, "--storage", storage], {
      stdio: "ignore",
      env,
    });
    const watcher = await open(storage);
    try {
      // Killed once it has replayed a few: the job's progress in the store is the signal.
      for (;;) {
        const [job] = await watcher.replays.jobs();
        if (job && job.done >= 5) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const [killed] = await watcher.replays.jobs();
      expect(killed?.status).toBe("running");
      expect(killed?.done).toBeLessThan(30);

      const resumed = await run(...args, "--rate", "1000", "--storage", storage);
      expect(resumed.code).toBe(0);
      expect(resumed.stderr).toContain(`Resuming replay job ${killed?.id}`);
      expect(resumed.stdout).toContain("completed: 30 of 30 replayed");
      expect(await replayCounts(watcher, ids)).toEqual(ids.map(() => 1));
      expect((await watcher.listRequests({ tag: "replay" })).total).toBe(30);
      expect(await watcher.replays.jobs()).toHaveLength(1);
      // Running it again starts a new job (the last one completed) over the same 30.
      const again = await run(...args, "--rate", "1000", "--storage", storage);
      expect(again.stdout).toContain("30 of 30 replayed");
      expect(await replayCounts(watcher, ids)).toEqual(ids.map(() => 2));
    } finally {
      child.kill("SIGKILL");
      await watcher.close();
    }
  }, 120_000);

  it("draws a bulk replay's progress bar with done/total and an ETA when --progress forces it", async () => {
    const storage = dir.file("bar.db");
    await seed(storage, 5);
    const args = ["replay", "--status", "failed", "--rate", "1000", "--storage", storage];
    const drawn = await run(...args, "--progress");
    expect(drawn.code).toBe(0);
    expect(drawn.stdout).toContain("completed: 5 of 5 replayed");
    expect(drawn.stderr).toMatch(/replaying \[#+\] 5\/5 100% \d+\/s ETA 0m00s/);
    const quiet = await run(...args, "--new");
    expect(quiet.stdout).toContain("completed: 5 of 5 replayed");
    expect(quiet.stderr).not.toContain("ETA");
  }, 60_000);

  it("sets and lists prices, and reprices a period", async () => {
    const storage = dir.file("prices.db");
    const JAN_1 = "2026-01-01T00:00:00Z";
    const setPrice = (model: string, input: string, ...more: string[]) =>
      run(
        "prices",
        "set",
        "--service",
        "openai",
        "--model",
        model,
        "--input",
        input,
        ...more,
        "--storage",
        storage,
      );
    const set = await setPrice("gpt-4o*", "2", "--from", JAN_1);
    expect(set.code).toBe(0);
    const tracker = await open(storage);
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.recordCost(req, {
      service: "openai",
      usage: { model: "gpt-4o", inputTokens: 1_000_000 },
    });
    await tracker.close();
    const list = await run("prices", "list", "--json", "--storage", storage);
    expect(JSON.parse(list.stdout)).toMatchObject([
      { service: "openai", model: "gpt-4o*", inputUsdPerMillion: 2 },
    ]);
    expect((await setPrice("gpt-4o*", "3", "--from", JAN_1)).code).toBe(0);
    const bad = await setPrice("m", "-1");
    expect(bad.stderr).toMatch(/inputUsdPerMillion: must not be negative/);
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const repriced = await run("reprice", "--from", from, "--to", to, "--storage", storage);
    expect(repriced.stdout).toContain("1 priced costs, 1 changed (+1.000000 USD)");
    expect(repriced.stderr).not.toContain("ETA");
    const after = await open(storage);
    expect((await after.getRequest(req))?.costUsd).toBe(3);
    await after.close();
    // With --progress the bar is drawn on stderr, done/total with rate and ETA.
    expect((await setPrice("gpt-4o*", "4", "--from", JAN_1)).code).toBe(0);
    const drawn = await run(
      "reprice",
      "--from",
      from,
      "--to",
      to,
      "--progress",
      "--storage",
      storage,
    );
    expect(drawn.stdout).toContain("1 priced costs, 1 changed (+1.000000 USD)");
    expect(drawn.stderr).toMatch(/repricing \[#+\] 1\/1 100% \d+\/s ETA 0m00s/);
  }, 60_000);
});
