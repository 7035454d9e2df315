import { describe, expect, it } from "vitest";
import type { AnyOp, CreateOp, OpResult, TransitionOp } from "../../src/core/ops.js";
import { createTracker, type LiveEvent, type Tracker } from "../../src/index.js";
import type { PendingOp } from "../../src/tracker/batcher.js";
import { foldFinishedCalls } from "../../src/tracker/finished-calls.js";
import { fakeClock, silentLogger } from "../support/helpers.js";
import { describeEachStorage, type TestStorage } from "../support/storages.js";

const create = (id: string, extra: Partial<CreateOp> = {}): CreateOp => ({
  type: "create",
  opId: `${id}:c`,
  at: 1,
  request: { id } as CreateOp["request"],
  ...extra,
});
const move = (id: string, to: TransitionOp["to"], extra: Partial<TransitionOp> = {}) =>
  ({ type: "transition", opId: `${id}:${to}`, at: 2, requestId: id, to, ...extra }) as AnyOp;
const pendingOf = (op: AnyOp): PendingOp => ({ op, resolve: () => {}, reject: () => {} });
const shape = (ops: AnyOp[]) =>
  foldFinishedCalls(ops.map(pendingOf)).map((e) => `${e.op.type}x${e.pending.length}`);

describe("folding finished calls", () => {
  it("folds a create, its start and its end into one op where the create was", () => {
    expect(
      shape([
        create("a"),
        create("b"),
        move("a", "running"),
        move("b", "running"),
        move("a", "completed"),
      ]),
    ).toEqual(["finishedx3", "createx1", "transitionx1"]);
  });

  it("keeps a call still running at the batch edge as its ops", () => {
    expect(shape([create("a"), move("a", "running")])).toEqual(["createx1", "transitionx1"]);
  });

  it("does not fold when another op on the request sits between", () => {
    const cost = { type: "cost", opId: "k", at: 2, requestId: "a" } as AnyOp;
    expect(shape([create("a"), move("a", "running"), cost, move("a", "completed")])).toEqual([
      "createx1",
      "transitionx1",
      "costx1",
      "transitionx1",
    ]);
  });

  it("does not fold across a claim or sweep, which would have seen the call pending", () => {
    const claim = { type: "claim", at: 2, workerId: "w", kinds: null, leaseMs: 1000 } as AnyOp;
    expect(shape([create("a"), claim, move("a", "running"), move("a", "failed")])).toEqual([
      "createx1",
      "claimx1",
      "transitionx1",
      "transitionx1",
    ]);
  });

  it("does not fold ops from remote clients (deduplicated or tenant-confined)", () => {
    expect(
      shape([create("a", { dedupe: true }), move("a", "running"), move("a", "completed")]),
    ).toEqual(["createx1", "transitionx1", "transitionx1"]);
    expect(
      shape([create("b"), move("b", "running", { tenant: "t" }), move("b", "completed")]),
    ).toEqual(["createx1", "transitionx1", "transitionx1"]);
  });

  it("does not fold a create that is repeated within the batch", () => {
    expect(shape([create("a"), create("a"), move("a", "running"), move("a", "completed")])).toEqual(
      ["createx1", "createx1", "transitionx1", "transitionx1"],
    );
  });
});

/** What a tracker stores and tells about requests `ids`: rows, events, rollups, live changes. */
async function everything(tracker: Tracker, ids: string[], live: LiveEvent[]) {
  const from = Date.UTC(2026, 0, 1);
  return {
    requests: await Promise.all(ids.map((id) => tracker.getRequest(id))),
    events: await Promise.all(ids.map((id) => tracker.getEvents(id))),
    tagged: (await tracker.listRequests({ tag: "http" })).items.map((r) => r.id).sort(),
    failed: (await tracker.listRequests({ status: "failed" })).items.map((r) => r.id),
    overview: await tracker.stats.overview({ window: "7d" }),
    timeseries: await tracker.stats.timeseries({ hours: 48 }),
    byKind: await tracker.stats.group({ by: "kind", value: "ping", from }),
    byTenant: await tracker.stats.group({ by: "tenantId", value: "t1", from }),
    live,
  };
}

/** Two calls (one completed, one failed) made the way `submit` says, on a fresh store. */
async function twoCalls(storage: TestStorage, folded: boolean) {
  const time = fakeClock();
  const tracker = await createTracker({
    ...(await storage.fresh()),
    clock: time.clock,
    logger: silentLogger(),
    watchdogIntervalMs: 0,
  });
  const live: LiveEvent[] = [];
  tracker.subscribe((event) => live.push(event));
  const applied: string[] = [];
  const apply = tracker.store.apply.bind(tracker.store);
  tracker.store.apply = (ops, options) => {
    applied.push(...ops.map((op) => op.type));
    return apply(ops, options);
  };
  const input = (id: string) => ({
    id,
    userId: "u1",
    kind: "ping",
    tenantId: "t1",
    sessionId: "s1",
    tags: ["http"],
    input: { method: "GET", route: "/api/ping" },
    // Made from the id and a per-tracker secret when not given: the same on both sides here.
    correlationId: id.endsWith("ok") ? "a".repeat(32) : "b".repeat(32),
  });
  for (const [id, ok] of [
    ["req_call_ok", true],
    ["req_call_bad", false],
  ] as const) {
    const writes: Promise<unknown>[] = [];
    const step = async (write: () => Promise<unknown>, ms: number) => {
      const written = write();
      time.advance(ms);
      if (folded) writes.push(written);
      else await written;
    };
    await step(() => tracker.createRequest(input(id)), 3);
    await step(() => tracker.startRequest(id), 40);
    await step(
      () =>
        ok
          ? tracker.completeRequest(id, { statusCode: 200 })
          : tracker.failRequest(id, { message: "boom", details: { statusCode: 500 } }),
      1,
    );
    await Promise.all(writes);
  }
  const stored = await everything(tracker, ["req_call_ok", "req_call_bad"], live);
  await tracker.close();
  return { stored, applied };
}

describeEachStorage("a folded call stores what its three ops store", (storage) => {
  it("the same rows, events, rollups and live changes as the three-op path", async () => {
    const three = await twoCalls(storage, false);
    const folded = await twoCalls(storage, true);
    const opByOp = ["create", "transition", "transition"];
    expect(three.applied).toEqual([...opByOp, ...opByOp]);
    expect(folded.applied).toEqual(["finished", "finished"]);
    expect(folded.stored).toEqual(three.stored);
    expect(folded.stored.requests.map((r) => r?.status)).toEqual(["completed", "failed"]);
    expect(folded.stored.overview).toMatchObject({ total: 2 });
  });

  it("answers a folded create, start and end each with its own result", async () => {
    const tracker = await createTracker({
      ...(await storage.fresh()),
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    const created = tracker.createRequest({ id: "req_answers", userId: "u" });
    const started = tracker.startRequest("req_answers");
    const ended = tracker.completeRequest("req_answers", { fine: true });
    // Read-your-writes: a read right after the calls sees the call ended.
    const read = await tracker.getRequest("req_answers");
    expect(read).toMatchObject({ status: "completed", result: { fine: true }, attempts: 1 });
    expect((await created).id).toBe("req_answers");
    await expect(started).resolves.toBeUndefined();
    await expect(ended).resolves.toBeUndefined();
    await tracker.close();
  });

  it("a folded call whose id is taken runs as its three ops: a resend of a finished call changes nothing", async () => {
    const tracker = await createTracker({
      ...(await storage.fresh()),
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    const call = (result: string) => [
      tracker.createRequest({ id: "req_twice", userId: "u" }),
      tracker.startRequest("req_twice"),
      tracker.completeRequest("req_twice", { result }),
    ];
    await Promise.all(call("first"));
    const [created, started, ended] = await Promise.allSettled(call("second"));
    expect(created).toMatchObject({ value: { id: "req_twice", status: "completed" } });
    // completed -> running is refused, as it would be op by op; the end is a no-op refresh.
    expect(started).toMatchObject({
      status: "rejected",
      reason: { message: "Invalid status transition: completed -> running" },
    });
    expect(ended?.status).toBe("fulfilled");
    const stored = await tracker.getRequest("req_twice");
    expect(stored).toMatchObject({ status: "completed", result: { result: "first" } });
    expect((await tracker.getEvents("req_twice")).map((e) => e.type)).toEqual([
      "request_created",
      "status_changed",
      "status_changed",
    ]);
    await tracker.close();
  });
});

/** Keeps the type checker honest about what the store hands back for a folded op. */
export type FoldedAnswer = OpResult & { parts?: OpResult[] };
