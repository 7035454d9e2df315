import { afterAll, afterEach, expect, it } from "vitest";
import { createTracker, type Request, type Tracker } from "../../src/index.js";
import { fakeClock, silentLogger, tempDir } from "../support/helpers.js";
import { clockedTracker, describeEachStorage, type StorageOptions } from "../support/storages.js";

/**
 * Claims of one batch are picked together (one statement per lane for a run of claims with one
 * filter, on both stores). Whatever the batching, every pending request is claimed exactly once,
 * a lease that expires puts it back for another worker, and idle workers wake without polling.
 */
describeEachStorage("claiming many at once", (storage) => {
  const open: Tracker[] = [];
  const files = tempDir("reqtrack-claim-many-");
  afterEach(async () => {
    for (const tracker of open.splice(0)) await tracker.close();
  });
  afterAll(() => files.cleanup());

  /** Claims `n` at once: one turn, so one batch. */
  const claimMany = (tracker: Tracker, n: number, workerId: string, leaseMs?: number) =>
    Promise.all(
      Array.from({ length: n }, () =>
        tracker.claimNext({ workerId, ...(leaseMs === undefined ? {} : { leaseMs }) }),
      ),
    );
  const ids = (claimed: (Request | null)[]) =>
    claimed.filter((r): r is Request => r !== null).map((r) => r.id);

  it("gives each of a batch's claims a different request, in lane, deadline and age order", async () => {
    const { tracker, time } = await clockedTracker(storage, Date.UTC(2026, 0, 1));
    open.push(tracker);
    const made: Record<string, string> = {};
    for (const [name, priority] of [
      ["low", 0.1],
      ["normal-old", 0.5],
      ["normal-new", 0.5],
      ["high", 0.9],
    ] as const) {
      made[name] = (await tracker.createRequest({ userId: name, priority })).id;
      time.advance(1000);
    }
    const claimed = await claimMany(tracker, 6, "w1");
    expect(claimed.map((r) => r?.userId ?? null)).toEqual([
      "high",
      "normal-old",
      "normal-new",
      "low",
      null,
      null,
    ]);
    expect(claimed.slice(0, 4).map((r) => r?.status)).toEqual(Array(4).fill("running"));
    expect(await tracker.queueDepth()).toMatchObject({ total: 0 });
  });

  it("never hands out a request an op between two claims of the batch ended, nor one taken twice", async () => {
    const { tracker } = await clockedTracker(storage, Date.UTC(2026, 0, 1));
    open.push(tracker);
    const a = await tracker.createRequest({ userId: "a" });
    const b = await tracker.createRequest({ userId: "b" });
    const c = await tracker.createRequest({ userId: "c", kind: "video" });
    // One turn: a claim, the cancel of b, a claim of videos only, a create, two more claims.
    const [first, , video, , later, last] = await Promise.all([
      tracker.claimNext({ workerId: "w1" }),
      tracker.cancelRequest(b.id, "changed my mind"),
      tracker.claimNext({ workerId: "w1", kinds: ["video"] }),
      tracker.createRequest({ userId: "d", priority: 0.9 }),
      tracker.claimNext({ workerId: "w1" }),
      tracker.claimNext({ workerId: "w1" }),
    ]);
    // Which claim gets which request may differ by store (PostgreSQL picks a batch's claims
    // together after its other ops); that each live request goes exactly once may not.
    const all = ids([first ?? null, video ?? null, later ?? null, last ?? null]);
    expect(video === null || video?.kind === "video").toBe(true);
    expect(all).not.toContain(b.id);
    expect(all).toHaveLength(3);
    expect(new Set(all).size).toBe(3);
    expect(all).toEqual(expect.arrayContaining([a.id, c.id]));
    expect((await tracker.getRequest(b.id))?.status).toBe("cancelled");
  });

  it("two trackers draining one store at concurrency 20 run every request exactly once", async () => {
    const where: StorageOptions =
      storage.name === "sqlite" ? { storage: files.file("drain.db") } : await storage.fresh();
    const options = { ...where, logger: silentLogger(), watchdogIntervalMs: 0 };
    const one = await createTracker(options);
    const two = await createTracker(options);
    open.push(one, two);
    const jobs = 300;
    await Promise.all(
      Array.from({ length: jobs }, (_, n) =>
        one.createRequest({ userId: `u${n}`, priority: [0.1, 0.5, 0.9][n % 3] }),
      ),
    );
    const runs = new Map<string, number>();
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    const handler = async (request: Request) => {
      runs.set(request.id, (runs.get(request.id) ?? 0) + 1);
      if ([...runs.values()].reduce((sum, n) => sum + n, 0) === jobs) finish();
      return { by: request.workerId };
    };
    const workers = [
      one.work({ concurrency: 20, workerId: "one", pollMs: 10 }, handler),
      two.work({ concurrency: 20, workerId: "two", pollMs: 10 }, handler),
    ];
    await done;
    await Promise.all(workers.map((worker) => worker.stop()));
    expect(runs.size).toBe(jobs);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    const page = await one.listRequests({ limit: 500, status: "completed" });
    expect(page.total).toBe(jobs);
    expect(page.items.every((r) => r.attempts === 1)).toBe(true);
  });

  it("puts requests whose lease expired back for another worker (injected clock)", async () => {
    const { tracker, time } = await clockedTracker(storage, Date.UTC(2026, 0, 1));
    open.push(tracker);
    for (let n = 0; n < 5; n++) await tracker.createRequest({ userId: `u${n}` });
    const first = ids(await claimMany(tracker, 5, "w1", 1000));
    expect(first).toHaveLength(5);
    time.advance(999);
    expect(await tracker.heartbeat(first[0] as string, "w1")).toBe(true);
    time.advance(1001); // the heartbeat moved the first lease to 1999 ms; all have passed now
    expect(await tracker.sweep()).toMatchObject({ requeued: 5, failed: 0 });
    expect(await tracker.heartbeat(first[0] as string, "w1")).toBe(false);
    const second = await claimMany(tracker, 6, "w2", 1000);
    expect(ids(second).sort()).toEqual([...first].sort());
    expect(second[5]).toBeNull();
    for (const request of second.slice(0, 5)) {
      expect(request).toMatchObject({ status: "running", workerId: "w2", attempts: 2 });
    }
  });

  it("wakes an idle worker when a request comes back to the queue, without waiting for its poll", async () => {
    const time = fakeClock();
    const tracker = await createTracker({
      ...(await storage.fresh()),
      clock: time.clock,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    open.push(tracker);
    const { id } = await tracker.createRequest({ userId: "u", maxAttempts: 3 });
    const attempts: number[] = [];
    let retried: () => void = () => {};
    const secondRun = new Promise<void>((resolve) => (retried = resolve));
    // An hour between polls: only a wake-up can bring the second run in a test's time.
    const worker = tracker.work({ pollMs: 3_600_000 }, async (request) => {
      attempts.push(request.attempts);
      if (attempts.length === 1) throw new Error("first run fails");
      retried();
      return null;
    });
    while ((await tracker.getRequest(id))?.status !== "failed") {
      await new Promise((resolve) => setImmediate(resolve));
    }
    await tracker.retryRequest(id);
    await secondRun;
    await worker.stop();
    expect(attempts).toEqual([1, 2]);
    expect((await tracker.getRequest(id))?.status).toBe("completed");
  });
});
