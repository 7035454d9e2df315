import { afterEach, beforeEach, expect, it, vi } from "vitest";
import {
  BudgetExceededError,
  NotFoundError,
  type Tracker,
  ValidationError,
} from "../../src/index.js";
import { clockedTracker, describeEachStorage } from "../support/storages.js";

const JAN_15_NOON = Date.UTC(2026, 0, 15, 12, 0, 0);

describeEachStorage("request replay", (storage) => {
  let tracker: Tracker;
  let time: Awaited<ReturnType<typeof clockedTracker>>["time"];

  beforeEach(async () => {
    ({ tracker, time } = await clockedTracker(storage, JAN_15_NOON));
  });
  afterEach(async () => {
    await tracker.close();
  });

  /** A pipeline run: script and voice completed, render failed. */
  const failedRun = async () => {
    const original = await tracker.createRequest({
      userId: "u1",
      tenantId: "acme",
      kind: "video_generation",
      priority: 0.9,
      tags: ["veo"],
      input: { prompt: "a cat" },
    });
    await tracker.startRequest(original, "w1");
    await tracker.trackStage(original, "script", () => ({ script: "meow" }));
    time.advance(10);
    await tracker.trackStage(original, "voice", () => "voice.mp3");
    time.advance(10);
    await tracker.recordCost(original, { service: "openai", amountUsd: 0.5 });
    await tracker
      .trackStage(original, "render", () => {
        throw new Error("GPU gone");
      })
      .catch(() => undefined);
    await tracker.failRequest(original, "GPU gone");
    time.advance(1000);
    const stored = await tracker.getRequest(original);
    if (!stored) throw new Error("the original is gone");
    return stored;
  };

  it("makes a new request linked to the original, with its input, user, tenant, kind, priority and tags; the original is unchanged", async () => {
    const original = await failedRun();
    const replay = await tracker.replay(original.id);
    expect(replay.id).not.toBe(original.id);
    expect(replay).toMatchObject({
      replayOf: original.id,
      status: "pending",
      userId: "u1",
      tenantId: "acme",
      kind: "video_generation",
      priority: 0.9,
      input: { prompt: "a cat" },
      tags: ["veo", "replay"],
      stages: [],
    });
    expect(await tracker.getRequest(original.id)).toEqual(original);
    const stored = await tracker.getRequest(replay.id);
    expect(stored?.replayOf).toBe(original.id);
    expect(stored?.tags).toEqual(["veo", "replay"]);

    const other = await tracker.replay(original.id, {
      input: { prompt: "a dog" },
      tags: ["retry"],
    });
    expect(other).toMatchObject({ input: { prompt: "a dog" }, tags: ["retry", "replay"] });
    expect((await tracker.replays.of(original.id)).map((r) => r.id)).toEqual([replay.id, other.id]);
    expect((await tracker.listRequests({ tag: "replay" })).total).toBe(2);
  });

  it("from a stage: the stages before it are copied as reused, and a worker resumes there", async () => {
    const original = await failedRun();
    const replay = await tracker.replay(original.id, { fromStage: "render" });
    const claimed = await tracker.claimNext({ workerId: "w2", kinds: ["video_generation"] });
    expect(claimed?.id).toBe(replay.id);
    expect(claimed?.stages.map((s) => [s.name, s.status, s.output, s.reusedFrom])).toEqual([
      ["script", "completed", { script: "meow" }, original.id],
      ["voice", "completed", "voice.mp3", original.id],
    ]);
    // The worker skips what was reused and runs render.
    const done = new Set(
      claimed?.stages.filter((s) => s.status === "completed").map((s) => s.name),
    );
    for (const stage of ["script", "voice", "render"]) {
      if (done.has(stage)) continue;
      await tracker.trackStage(replay, stage, () => "render.mp4");
    }
    await tracker.recordCost(replay, { service: "veo", amountUsd: 2 });
    time.advance(500);
    await tracker.completeRequest(replay, { url: "render.mp4" });

    const comparison = await tracker.replays.compare(original.id, replay.id);
    expect(comparison.left).toMatchObject({
      id: original.id,
      status: "failed",
      costByService: { openai: 0.5 },
      result: null,
    });
    expect(comparison.right).toMatchObject({
      id: replay.id,
      replayOf: original.id,
      status: "completed",
      costByService: { veo: 2 },
      result: { url: "render.mp4" },
    });
    expect(comparison.right.stages.map((s) => [s.name, s.reused])).toEqual([
      ["script", true],
      ["voice", true],
      ["render", false],
    ]);
    expect(comparison).toMatchObject({ sameStatus: false, sameResult: false, costDeltaUsd: 1.5 });
    // The original still has its own stages only.
    expect(
      (await tracker.getRequest(original.id))?.stages.every((s) => s.reusedFrom === null),
    ).toBe(true);
  });

  it("refuses a stage the request never ran, an unknown or deleted request, naming the field, and writes nothing", async () => {
    const original = await failedRun();
    const before = (await tracker.listRequests({ includeDeleted: true })).total;
    const fails = async (
      call: Promise<unknown>,
      type: abstract new (...args: never[]) => unknown,
      field: string,
    ) => {
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(type);
      expect((error as { field?: string }).field).toBe(field);
      return error as Error;
    };
    const never = await fails(
      tracker.replay(original.id, { fromStage: "upload" }),
      ValidationError,
      "fromStage",
    );
    expect(never.message).toMatch(/never ran stage upload .*script, voice, render/);
    await fails(tracker.replay("req_nope"), NotFoundError, "id");
    await fails(tracker.replay("not an id!"), ValidationError, "id");
    await fails(tracker.replay(original.id, { tags: [""] } as never), ValidationError, "tags.0");
    await tracker.deleteRequest(original.id);
    const deleted = await fails(tracker.replay(original.id), NotFoundError, "id");
    expect(deleted.message).toMatch(/deleted/);
    expect((await tracker.listRequests({ includeDeleted: true })).total).toBe(before);
  });

  it("is budget-checked like a new request: a spent enforce budget refuses it and nothing is written", async () => {
    const original = await failedRun();
    await tracker.budgets.create({
      tenantId: "acme",
      period: "day",
      amountUsd: 0.5,
      mode: "enforce",
    });
    const error = await tracker
      .replay(original.id, { fromStage: "render" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(await tracker.replays.of(original.id)).toEqual([]);
    // No stages were left behind for a replay that does not exist: a later replay has only
    // the stages it copies itself.
    await tracker.budgets.update((await tracker.budgets.list())[0]?.id ?? "", { amountUsd: 100 });
    const replay = await tracker.replay(original.id, { fromStage: "voice" });
    expect((await tracker.getRequest(replay.id))?.stages.map((s) => s.name)).toEqual(["script"]);
  });

  it("cost reports include replays by default, and leave them out or count them alone on request", async () => {
    const original = await failedRun();
    const replay = await tracker.replay(original.id);
    await tracker.recordCost(replay, { service: "veo", amountUsd: 2 });
    const period = { from: Date.UTC(2026, 0, 15), to: Date.UTC(2026, 0, 16) };
    const all = await tracker.costs.report(period);
    expect(all).toMatchObject({ totalRequests: 2, totalCostUsd: 2.5 });
    const originals = await tracker.costs.report({ ...period, replays: "exclude" });
    expect(originals).toMatchObject({ totalRequests: 1, totalCostUsd: 0.5 });
    expect(originals.byService).toEqual([{ service: "openai", records: 1, costUsd: 0.5 }]);
    expect(originals.byTenant).toEqual([{ tenantId: "acme", requests: 1, costUsd: 0.5 }]);
    const replays = await tracker.costs.report({ ...period, replays: "only" });
    expect(replays).toMatchObject({ totalRequests: 1, totalCostUsd: 2 });
    expect(replays.byService).toEqual([{ service: "veo", records: 1, costUsd: 2 }]);
  });
});

describeEachStorage("bulk replay", (storage) => {
  let tracker: Tracker;
  let time: Awaited<ReturnType<typeof clockedTracker>>["time"];

  beforeEach(async () => {
    ({ tracker, time } = await clockedTracker(storage, JAN_15_NOON));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await tracker.close();
  });

  const failedAt = async (at: number, kind = "render") => {
    time.set(at);
    const r = await tracker.createRequest({ userId: "u", tenantId: "acme", kind });
    await tracker.startRequest(r, "w");
    await tracker.failRequest(r, "boom");
    return r.id;
  };

  it("picks by period, kind and status, and waits 1/rate s between replays", async () => {
    const HOUR = 3_600_000;
    const before = await failedAt(JAN_15_NOON - 2 * HOUR);
    const inside = [await failedAt(JAN_15_NOON), await failedAt(JAN_15_NOON + HOUR)];
    await failedAt(JAN_15_NOON + HOUR, "chat"); // another kind
    const after = await failedAt(JAN_15_NOON + 3 * HOUR);
    const ok = await tracker.createRequest({ userId: "u", tenantId: "acme", kind: "render" });
    await tracker.startRequest(ok, "w");
    await tracker.completeRequest(ok, {}); // another status

    // The pause between replays is a timer of 1000 / ratePerSecond ms: 25 ms at 40 a second.
    const timer = vi.spyOn(globalThis, "setTimeout");
    const job = await tracker.replays.bulk(
      {
        status: "failed",
        kind: "render",
        from: new Date(JAN_15_NOON - HOUR),
        to: new Date(JAN_15_NOON + 2 * HOUR),
      },
      { ratePerSecond: 40 },
    );
    expect(job).toMatchObject({ status: "completed", total: 2, done: 2, ratePerSecond: 40 });
    expect(timer.mock.calls.filter(([, ms]) => ms === 25)).toHaveLength(2);
    for (const id of inside) expect(await tracker.replays.of(id)).toHaveLength(1);
    for (const id of [before, after, ok.id]) expect(await tracker.replays.of(id)).toEqual([]);
  });
});
