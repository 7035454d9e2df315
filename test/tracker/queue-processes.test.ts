import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { captureLogger, fakeClock, tempDir } from "../support/helpers.js";

const run = promisify(execFile);
const claimer = fileURLToPath(new URL("../fixtures/claimer.ts", import.meta.url));
const nodeArgs = ["--import", "tsx", claimer];

/** Real worker processes on one SQLite file: what a crash or a race really does. */
describe("queue across processes", () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let children: ChildProcess[] = [];

  beforeEach(() => {
    dir = tempDir();
    path = dir.file("queue.db");
  });
  afterEach(() => {
    for (const child of children) child.kill("SIGKILL");
    children = [];
    dir.cleanup();
  });

  it("claims 10,000 requests exactly once across three processes claiming concurrently", async () => {
    const seeder = await createTracker({
      storage: path,
      logger: captureLogger("warn").logger,
      watchdogIntervalMs: 0,
    });
    const ids = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) =>
        seeder
          .createRequest({ userId: `u${i % 50}`, priority: [0.1, 0.5, 0.9][i % 3] })
          .then((r) => r.id),
      ),
    );
    await seeder.close();

    const outputs = await Promise.all(
      [0, 1, 2].map(() =>
        run(process.execPath, [...nodeArgs, path, "drain", "16"], { maxBuffer: 64 * 1024 * 1024 }),
      ),
    );
    const perProcess = outputs.map(({ stdout }) => JSON.parse(stdout.trim()) as string[]);
    const claimed = perProcess.flat();
    expect(claimed).toHaveLength(10_000);
    expect(new Set(claimed).size).toBe(10_000);
    expect(new Set(claimed)).toEqual(new Set(ids));
    // Every process got a share: they really competed.
    for (const share of perProcess) expect(share.length).toBeGreaterThan(0);

    const check = await createTracker({
      storage: path,
      logger: captureLogger("warn").logger,
      watchdogIntervalMs: 0,
    });
    expect(await check.queueDepth()).toMatchObject({ total: 0 });
    expect((await check.listRequests({ status: "running", limit: 1 })).total).toBe(10_000);
    await check.close();
  }, 120_000);

  const holdOne = async (leaseMs: number): Promise<{ child: ChildProcess; claimed: string }> => {
    const child = spawn(process.execPath, [...nodeArgs, path, "hold", String(leaseMs)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    const [line] = (await once(child.stdout!, "data")) as [Buffer];
    return { child, claimed: (JSON.parse(line.toString()) as { claimed: string }).claimed };
  };

  const killHard = async (child: ChildProcess) => {
    child.kill("SIGKILL");
    if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    expect(child.signalCode).toBe("SIGKILL");
  };

  it("a worker killed with SIGKILL loses its lease; the request is requeued and completes exactly once elsewhere", async () => {
    const time = fakeClock(Date.now());
    const open = () =>
      createTracker({
        storage: path,
        clock: time.clock,
        logger: captureLogger().logger,
        watchdogIntervalMs: 0,
      });
    let tracker: Tracker = await open();
    const req = await tracker.createRequest({ userId: "u", maxAttempts: 3 });
    await tracker.close();

    const { child, claimed } = await holdOne(30_000);
    expect(claimed).toBe(req.id);
    await killHard(child);

    tracker = await open();
    expect((await tracker.getRequest(req))?.status).toBe("running");
    time.set(Date.now() + 30_001);
    expect(await tracker.sweep()).toMatchObject({ requeued: 1, failed: 0 });
    expect(await tracker.getRequest(req)).toMatchObject({
      status: "pending",
      attempts: 1,
      errorMessage: "lease expired",
    });

    const again = await tracker.claimNext({ workerId: "survivor" });
    expect(again).toMatchObject({ id: req.id, attempts: 2 });
    await tracker.completeRequest(req, { ok: true });
    time.advance(60_000);
    expect((await tracker.sweep()).changes).toEqual([]);
    const events = await tracker.getEvents(req);
    expect(events.filter((e) => e.type === "status_changed").map((e) => e.message)).toEqual([
      "pending -> running",
      "running -> pending: lease expired",
      "pending -> running",
      "running -> completed",
    ]);
    expect(await tracker.getRequest(req)).toMatchObject({
      status: "completed",
      workerId: "survivor",
    });
    await tracker.close();
  }, 60_000);

  it("fails the request with 'lease expired' when the killed run was its last attempt", async () => {
    const time = fakeClock(Date.now());
    let tracker = await createTracker({
      storage: path,
      logger: captureLogger().logger,
      watchdogIntervalMs: 0,
    });
    const req = await tracker.createRequest({ userId: "u", maxAttempts: 1 });
    await tracker.close();
    const { child } = await holdOne(10_000);
    await killHard(child);
    tracker = await createTracker({
      storage: path,
      clock: time.clock,
      logger: captureLogger().logger,
      watchdogIntervalMs: 0,
    });
    time.set(Date.now() + 10_001);
    expect(await tracker.sweep()).toMatchObject({ requeued: 0, failed: 1 });
    expect(await tracker.getRequest(req)).toMatchObject({
      status: "failed",
      attempts: 1,
      errorMessage: "lease expired",
    });
    await tracker.close();
  }, 60_000);
});
