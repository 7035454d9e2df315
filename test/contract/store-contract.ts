import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidTransitionError, MaxAttemptsError, NotFoundError } from "../../src/core/errors.js";
import type { AnyOp, ContextOp, NewRequest, Op, OpResult } from "../../src/core/ops.js";
import type { Store } from "../../src/store/store.js";

/**
 * The one suite every Store driver must pass. Drivers' own test files call
 * `describeStoreContract` with a factory for an empty store and add only their extras.
 */
export function describeStoreContract(driver: string, makeStore: () => Promise<Store>) {
  describe(`Store contract: ${driver}`, () => {
    let store: Store;
    let opSeq = 0;
    const T0 = Date.UTC(2026, 0, 1);

    const opId = () => `contract:${++opSeq}`;
    const newRequest = (overrides: Partial<NewRequest> = {}): NewRequest => ({
      id: `req_${++opSeq}`,
      priority: 0.5,
      lane: "normal",
      userId: "user-1",
      channelId: null,
      tenantId: null,
      sessionId: null,
      kind: null,
      source: null,
      tags: [],
      initialMessage: "hello",
      input: null,
      intent: null,
      entities: null,
      parentId: null,
      correlationId: null,
      maxAttempts: 2,
      timeoutMs: 300_000,
      deadlineAt: null,
      createdAt: T0,
      ...overrides,
    });
    const create = (request: NewRequest): Op => ({
      type: "create",
      opId: opId(),
      at: request.createdAt,
      request,
    });
    const to = (
      requestId: string,
      status: Op & { type: "transition" } extends infer T
        ? T extends { to: infer S }
          ? S
          : never
        : never,
      at: number,
      extra = {},
    ): Op => ({
      type: "transition",
      opId: opId(),
      at,
      requestId,
      to: status,
      ...extra,
    });
    const stage = (
      requestId: string,
      name: string,
      action: "start" | "complete" | "fail",
      at: number,
      extra = {},
    ): Op => ({
      type: "stage",
      opId: opId(),
      at,
      requestId,
      stage: name,
      action,
      ...extra,
    });
    const one = async (op: Op): Promise<OpResult> => (await store.apply([op]))[0] as OpResult;

    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    it("creates a pending request and reads it back with every field", async () => {
      const r = newRequest({
        tenantId: "t1",
        tags: ["x", "y"],
        input: { prompt: "p", parameters: { n: 1 } },
        entities: { topic: "cats" },
        deadlineAt: T0 + 1000,
      });
      expect(await one(create(r))).toMatchObject({ ok: true, duplicate: false });
      const got = await store.getRequest(r.id);
      expect(got).toMatchObject({
        id: r.id,
        status: "pending",
        tenantId: "t1",
        tags: ["x", "y"],
        input: { prompt: "p", parameters: { n: 1 } },
        entities: { topic: "cats" },
        attempts: 0,
        maxAttempts: 2,
        costUsd: 0,
        counters: {},
        stages: [],
        costs: [],
      });
      expect(got?.createdAt).toEqual(new Date(T0));
      expect(got?.deadline).toEqual(new Date(T0 + 1000));
      expect((await store.getScope(r.id))?.status).toBe("pending");
    });

    it("returns the existing request for a duplicate id and writes no second row", async () => {
      const r = newRequest();
      await one(create(r));
      const again = await one(create({ ...r, userId: "someone-else" }));
      expect(again).toMatchObject({
        ok: true,
        duplicate: true,
        created: { id: r.id, userId: "user-1" },
      });
      const page = await store.listRequests({ limit: 10, offset: 0 });
      expect(page.total).toBe(1);
    });

    it("runs the lifecycle with timings computed from op times", async () => {
      const r = newRequest();
      await store.apply([create(r), to(r.id, "running", T0 + 100, { workerId: "w1" })]);
      const done = await one(to(r.id, "completed", T0 + 350, { result: { ok: 1 } }));
      expect(done).toMatchObject({
        ok: true,
        transition: { from: "running", to: "completed", noop: false, durationMs: 250 },
      });
      const got = await store.getRequest(r.id);
      expect(got).toMatchObject({
        status: "completed",
        queueMs: 100,
        durationMs: 250,
        attempts: 1,
        workerId: "w1",
        result: { ok: 1 },
      });
    });

    it("rejects an invalid transition and leaves the row untouched", async () => {
      const r = newRequest();
      await store.apply([create(r), to(r.id, "running", T0 + 1), to(r.id, "completed", T0 + 2)]);
      const before = await store.getRequest(r.id);
      const result = await one(to(r.id, "running", T0 + 3));
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error).toBeInstanceOf(InvalidTransitionError);
      expect(await store.getRequest(r.id)).toEqual(before);
    });

    it("fails only the bad op of a batch; the others commit", async () => {
      const a = newRequest();
      const b = newRequest();
      const results = await store.apply([create(a), to(a.id, "completed", T0 + 1), create(b)]);
      expect(results.map((x) => x.ok)).toEqual([true, false, true]);
      expect((await store.getScope(a.id))?.status).toBe("pending");
      expect((await store.getScope(b.id))?.status).toBe("pending");
    });

    it("isolates an op that fails unexpectedly halfway: it leaves nothing, the others commit", async () => {
      const a = newRequest();
      // The request row is written before the NULL tag violates a constraint.
      const broken = newRequest({ tags: ["t", null as unknown as string] });
      const c = newRequest();
      const results = await store.apply([create(a), create(broken), create(c)]);
      expect(results.map((x) => x.ok)).toEqual([true, false, true]);
      expect((await store.getScope(a.id))?.status).toBe("pending");
      expect(await store.getScope(broken.id)).toBeNull();
      expect((await store.getScope(c.id))?.status).toBe("pending");
      expect((await store.listRequests({ limit: 10, offset: 0, tag: "t" })).total).toBe(0);
    });

    it("reports an unknown request as NotFoundError for every kind of op", async () => {
      const ops: Op[] = [
        to("req_missing", "running", T0),
        stage("req_missing", "s", "start", T0),
        {
          type: "event",
          opId: opId(),
          at: T0,
          requestId: "req_missing",
          eventType: "x",
          severity: "info",
          message: "",
          stage: null,
          data: null,
        },
        {
          type: "cost",
          opId: opId(),
          at: T0,
          requestId: "req_missing",
          service: "openai",
          amountMicros: 1,
          usage: null,
          stage: null,
        },
        {
          type: "increment",
          opId: opId(),
          at: T0,
          requestId: "req_missing",
          counter: "rounds",
          by: 1,
        },
      ];
      for (const result of await store.apply(ops)) {
        expect(result.ok).toBe(false);
        expect(!result.ok && result.error).toBeInstanceOf(NotFoundError);
      }
    });

    it("refreshes completedAt on a same-status terminal update", async () => {
      const r = newRequest();
      await store.apply([
        create(r),
        to(r.id, "running", T0 + 10),
        to(r.id, "failed", T0 + 20, { error: { message: "boom" } }),
      ]);
      const again = await one(to(r.id, "failed", T0 + 50, { error: { message: "boom" } }));
      expect(again).toMatchObject({ ok: true, transition: { noop: true } });
      const got = await store.getRequest(r.id);
      expect(got?.completedAt).toEqual(new Date(T0 + 50));
      expect(got?.durationMs).toBe(40);
    });

    it("retries failed requests until attempts reach maxAttempts", async () => {
      const r = newRequest({ maxAttempts: 2 });
      await store.apply([
        create(r),
        to(r.id, "running", T0 + 1),
        to(r.id, "failed", T0 + 2, { error: { message: "x", stage: "render" } }),
      ]);
      expect((await one(to(r.id, "pending", T0 + 3))).ok).toBe(true);
      const retried = await store.getRequest(r.id);
      expect(retried).toMatchObject({ status: "pending", errorStage: "render", completedAt: null });
      await store.apply([to(r.id, "running", T0 + 4), to(r.id, "timeout", T0 + 5)]);
      const last = await one(to(r.id, "pending", T0 + 6));
      expect(!last.ok && last.error).toBeInstanceOf(MaxAttemptsError);
      expect((await store.getScope(r.id))?.status).toBe("timeout");
    });

    it("numbers stage attempts and fails running stages with the request", async () => {
      const r = newRequest();
      await store.apply([
        create(r),
        to(r.id, "running", T0 + 1),
        stage(r.id, "rag", "start", T0 + 2),
        stage(r.id, "rag", "complete", T0 + 12, { output: { chunks: 5 } }),
        stage(r.id, "render", "start", T0 + 13),
        to(r.id, "failed", T0 + 20, { error: { message: "GPU lost" } }),
      ]);
      let got = await store.getRequest(r.id);
      expect(got?.errorStage).toBe("render");
      expect(got?.stages.map((s) => [s.name, s.attempt, s.status, s.durationMs])).toEqual([
        ["rag", 1, "completed", 10],
        ["render", 1, "failed", 7],
      ]);
      expect(got?.stages[0]?.output).toEqual({ chunks: 5 });
      await store.apply([
        to(r.id, "pending", T0 + 30),
        to(r.id, "running", T0 + 31),
        stage(r.id, "render", "start", T0 + 32),
      ]);
      got = await store.getRequest(r.id);
      expect(got?.stages.map((s) => [s.name, s.attempt, s.status])).toEqual([
        ["rag", 1, "completed"],
        ["render", 1, "failed"],
        ["render", 2, "running"],
      ]);
    });

    it("refuses stage changes that do not follow running -> completed | failed", async () => {
      const r = newRequest();
      await one(create(r));
      const early = await one(stage(r.id, "rag", "start", T0 + 1));
      expect(!early.ok && early.error).toBeInstanceOf(InvalidTransitionError);
      await one(to(r.id, "running", T0 + 2));
      const notStarted = await one(stage(r.id, "rag", "complete", T0 + 3));
      expect(!notStarted.ok && notStarted.error).toBeInstanceOf(InvalidTransitionError);
      await one(stage(r.id, "rag", "start", T0 + 4));
      await one(
        stage(r.id, "rag", "fail", T0 + 5, {
          error: { message: "x", details: null, retryable: true },
        }),
      );
      const afterFail = await one(stage(r.id, "rag", "complete", T0 + 6));
      expect(!afterFail.ok && afterFail.error).toBeInstanceOf(InvalidTransitionError);
      const got = await store.getRequest(r.id);
      expect(got?.stages).toMatchObject([
        { name: "rag", status: "failed", retryable: true, errorMessage: "x" },
      ]);
    });

    it("keeps one ordered history of status changes, stage changes and events", async () => {
      const r = newRequest();
      await store.apply([
        create(r),
        to(r.id, "running", T0 + 1),
        stage(r.id, "rag", "start", T0 + 2),
        {
          type: "event",
          opId: opId(),
          at: T0 + 3,
          requestId: r.id,
          eventType: "api_call",
          severity: "warning",
          message: "slow",
          stage: "rag",
          data: { ms: 900 },
        },
        stage(r.id, "rag", "complete", T0 + 4),
        to(r.id, "completed", T0 + 5),
      ]);
      const events = await store.getEvents(r.id);
      expect(events.map((e) => [e.seq, e.type])).toEqual([
        [1, "request_created"],
        [2, "status_changed"],
        [3, "stage_started"],
        [4, "api_call"],
        [5, "stage_completed"],
        [6, "status_changed"],
      ]);
      expect(events[3]).toMatchObject({ severity: "warning", stage: "rag", data: { ms: 900 } });
    });

    it("sums costs exactly in micro-USD and keeps counters", async () => {
      const r = newRequest();
      await one(create(r));
      const cost = (service: string, amountMicros: number): Op => ({
        type: "cost",
        opId: opId(),
        at: T0,
        requestId: r.id,
        service,
        amountMicros,
        usage: { tokens: 1 },
        stage: null,
      });
      const inc = (counter: string, by: number): Op => ({
        type: "increment",
        opId: opId(),
        at: T0,
        requestId: r.id,
        counter,
        by,
      });
      await store.apply([
        cost("openai", 100_000),
        cost("openai", 200_000),
        cost("native", 1),
        inc("tool_calls", 1),
        inc("tool_calls", 2),
        inc("rounds", 1),
      ]);
      const got = await store.getRequest(r.id);
      expect(got?.costUsd).toBe(0.300001);
      expect(got?.costs.map((c) => c.amountMicros)).toEqual([100_000, 200_000, 1]);
      expect(got?.counters).toEqual({ tool_calls: 3, rounds: 1 });
    });

    const context = (requestId: string, at: number, fields: Partial<ContextOp>): Op => ({
      type: "context",
      opId: opId(),
      at,
      requestId,
      ...fields,
    });

    it("sets tenant, session and user on a live request, in the same batch as its costs", async () => {
      const r = newRequest({ userId: "anonymous" });
      const spend = (amountMicros: number): Op => ({
        type: "cost",
        opId: opId(),
        at: T0 + 5,
        requestId: r.id,
        service: "openai",
        amountMicros,
        usage: null,
        stage: null,
      });
      const results = await store.apply([
        create(r),
        spend(100),
        context(r.id, T0 + 10, { tenantId: "acme", sessionId: "s-1", userId: "u-7" }),
        spend(20),
      ]);
      expect(results.map((x) => x.ok)).toEqual([true, true, true, true]);
      expect(await store.getRequest(r.id)).toMatchObject({
        tenantId: "acme",
        sessionId: "s-1",
        userId: "u-7",
        costUsd: 0.00012,
      });
      expect(await store.getScope(r.id)).toMatchObject({ tenantId: "acme" });
      expect((await store.getEvents(r.id)).at(-1)).toMatchObject({
        type: "context_set",
        message: "Context set: tenantId, sessionId, userId",
        data: { tenantId: "acme", sessionId: "s-1", userId: "u-7" },
      });
      // Absent fields stay; null clears.
      await one(context(r.id, T0 + 20, { sessionId: null }));
      expect(await store.getRequest(r.id)).toMatchObject({
        tenantId: "acme",
        sessionId: null,
        userId: "u-7",
      });
    });

    it("refuses setContext once the request has ended, and leaves it as it was", async () => {
      const r = newRequest({ tenantId: "t1" });
      await store.apply([create(r), to(r.id, "running", T0 + 1), to(r.id, "completed", T0 + 2)]);
      const refused = await one(context(r.id, T0 + 3, { tenantId: "t2" }));
      expect(refused).toMatchObject({ ok: false, error: { code: "RT_ERR_REQUEST_ENDED" } });
      expect((await store.getRequest(r.id))?.tenantId).toBe("t1");
      expect((await one(context("req_missing", T0, { userId: "u" }))).ok).toBe(false);
    });

    it("keeps a tenant-confined setContext inside its tenant", async () => {
      const own = newRequest({ tenantId: "t1" });
      const other = newRequest({ tenantId: "t2" });
      await store.apply([create(own), create(other)]);
      const confined = (requestId: string, fields: Partial<ContextOp>) => ({
        ...context(requestId, T0 + 1, fields),
        tenant: "t1",
      });
      // Another tenant's request is not there for it; its own cannot be handed away.
      expect(await one(confined(other.id, { tenantId: "t1" }))).toMatchObject({
        ok: false,
        error: { code: "RT_ERR_NOT_FOUND" },
      });
      expect(await one(confined(own.id, { tenantId: "t2" }))).toMatchObject({
        ok: false,
        error: { code: "RT_ERR_FORBIDDEN" },
      });
      expect(await one(confined(own.id, { tenantId: null }))).toMatchObject({ ok: false });
      expect((await one(confined(own.id, { sessionId: "s" }))).ok).toBe(true);
      expect(await store.getRequest(own.id)).toMatchObject({ tenantId: "t1", sessionId: "s" });
      expect((await store.getRequest(other.id))?.tenantId).toBe("t2");
    });

    it("applies an op id once when deduplicating", async () => {
      const r = newRequest();
      const ops: Op[] = [
        create(r),
        {
          type: "event",
          opId: opId(),
          at: T0,
          requestId: r.id,
          eventType: "x",
          severity: "info",
          message: "",
          stage: null,
          data: null,
        },
      ];
      await store.apply(ops, { dedupe: true });
      const again = await store.apply(ops, { dedupe: true });
      expect(again.every((x) => x.ok && x.duplicate)).toBe(true);
      expect((await store.getEvents(r.id)).map((e) => e.type)).toEqual(["request_created", "x"]);
    });

    it("judges a refused op again when its id comes back, instead of passing it as a duplicate", async () => {
      const r = newRequest();
      await store.apply([create(r)]);
      const refused: Op = { ...to(r.id, "completed", T0 + 1), dedupe: true };
      const first = await store.apply([refused]);
      const again = await store.apply([refused]);
      for (const result of [first[0], again[0]]) {
        expect(result?.ok).toBe(false);
        expect(!result?.ok && result?.error).toBeInstanceOf(InvalidTransitionError);
      }
    });

    it("forgets op ids older than the dedupe window when pruned, and only those", async () => {
      const r = newRequest({ createdAt: T0 + 2_000 });
      await store.apply([create(r)]);
      const note = (at: number): Op => ({
        type: "event",
        opId: opId(),
        at,
        requestId: r.id,
        eventType: "note",
        severity: "info",
        message: "",
        stage: null,
        data: null,
        dedupe: true,
      });
      const old = note(T0 + 10);
      const recent = note(T0 + 5_000);
      await store.apply([old, recent]);
      expect(await store.pruneAppliedOps(T0 + 1_000)).toBe(1);
      const resent = await store.apply([old, recent]);
      expect(resent.map((x) => x.ok && x.duplicate === true)).toEqual([false, true]);
      expect((await store.getEvents(r.id)).filter((e) => e.type === "note")).toHaveLength(3);
    });

    it("lists with filters, newest first, with totals and cursors", async () => {
      const ops: Op[] = [];
      for (let i = 0; i < 25; i++) {
        ops.push(
          create(
            newRequest({
              id: `req_list_${String(i).padStart(2, "0")}`,
              userId: i % 2 === 0 ? "even" : "odd",
              tenantId: i < 10 ? "t1" : "t2",
              kind: i % 5 === 0 ? "video" : "chat",
              channelId: "c1",
              sessionId: i % 3 === 0 ? "s1" : null,
              tags: i % 4 === 0 ? ["vip"] : [],
              createdAt: T0 + Math.floor(i / 2) * 1000,
            }),
          ),
        );
      }
      await store.apply(ops);
      await store.apply([to("req_list_00", "running", T0 + 1)]);
      const all = await store.listRequests({ limit: 10, offset: 0 });
      expect(all.total).toBe(25);
      expect(all.items.map((r) => r.id).slice(0, 3)).toEqual([
        "req_list_24",
        "req_list_23",
        "req_list_22",
      ]);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listRequests({
          limit: 7,
          offset: 0,
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...page.items.map((r) => r.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toEqual([...seen].sort().reverse());
      expect(new Set(seen).size).toBe(25);
      const offsetPage = await store.listRequests({ limit: 5, offset: 20 });
      expect(offsetPage.items.map((r) => r.id)).toEqual(seen.slice(20));
      const count = async (f: object) =>
        (await store.listRequests({ limit: 100, offset: 0, ...f })).total;
      expect(await count({ userId: "even" })).toBe(13);
      expect(await count({ tenantId: "t1" })).toBe(10);
      expect(await count({ kind: "video" })).toBe(5);
      expect(await count({ sessionId: "s1" })).toBe(9);
      expect(await count({ channelId: "c1" })).toBe(25);
      expect(await count({ tag: "vip" })).toBe(7);
      expect(await count({ status: "running" })).toBe(1);
      expect(await count({ status: ["running", "pending"] })).toBe(25);
      expect(await count({ from: new Date(T0 + 5000), to: new Date(T0 + 7000) })).toBe(4);
      expect(await count({ userId: "even", tenantId: "t1", kind: "video" })).toBe(1);
    });

    it("lists by source and by text the prompt contains, wildcards taken literally", async () => {
      await store.apply([
        create(newRequest({ id: "p1", source: "discord", initialMessage: "Draw a RED fox" })),
        create(newRequest({ id: "p2", source: "web", initialMessage: "a red panda, 100% cute" })),
        create(
          newRequest({ id: "p3", source: "web", initialMessage: null, input: { prompt: "Red" } }),
        ),
        create(newRequest({ id: "p4", initialMessage: null, input: { prompt: 42 } })),
        create(newRequest({ id: "p5", initialMessage: "blue whale_shark" })),
      ]);
      const ids = async (f: object) =>
        (await store.listRequests({ limit: 100, offset: 0, ...f })).items.map((r) => r.id).sort();
      expect(await ids({ source: "web" })).toEqual(["p2", "p3"]);
      expect(await ids({ prompt: "red" })).toEqual(["p1", "p2", "p3"]);
      expect(await ids({ prompt: "red", source: "web" })).toEqual(["p2", "p3"]);
      expect(await ids({ prompt: "100%" })).toEqual(["p2"]);
      expect(await ids({ prompt: "%" })).toEqual(["p2"]);
      expect(await ids({ prompt: "e_s" })).toEqual(["p5"]);
      expect(await ids({ prompt: "l_w" })).toEqual([]);
      expect(await ids({ prompt: "42" })).toEqual([]);
      expect((await store.listRequests({ limit: 1, offset: 0, prompt: "red" })).total).toBe(3);
    });

    const claim = (at: number, kinds: string[] | null = null, leaseMs = 30_000): AnyOp => ({
      type: "claim",
      at,
      workerId: "w1",
      kinds,
      leaseMs,
    });
    const queueResult = async (op: AnyOp) => {
      const [result] = await store.apply([op]);
      if (!result?.ok || !result.queue) throw new Error(`queue op ${op.type} failed`);
      return result.queue;
    };

    it("claims in lane, deadline, age order; each pending request once, even within one batch", async () => {
      await store.apply([
        create(newRequest({ id: "low", lane: "low", priority: 0.1, createdAt: T0 })),
        create(newRequest({ id: "normal-old", createdAt: T0 + 1 })),
        create(newRequest({ id: "normal-deadline", createdAt: T0 + 2, deadlineAt: T0 + 9_000 })),
        create(
          newRequest({ id: "high", lane: "high", priority: 0.9, createdAt: T0 + 3, kind: "video" }),
        ),
      ]);
      expect(await store.queueDepth()).toEqual({ high: 1, normal: 2, low: 1 });
      const results = await store.apply([
        claim(T0 + 10),
        claim(T0 + 10),
        claim(T0 + 10),
        claim(T0 + 10),
        claim(T0 + 10),
      ]);
      const ids = results.map((r) =>
        r.ok && r.queue?.type === "claim" ? (r.queue.request?.id ?? null) : "error",
      );
      expect(ids).toEqual(["high", "normal-deadline", "normal-old", "low", null]);
      const got = await store.getRequest("high");
      expect(got).toMatchObject({ status: "running", workerId: "w1", attempts: 1, queueMs: 7 });
      expect(got?.leaseExpiresAt).toEqual(new Date(T0 + 30_010));
      expect(await store.queueDepth()).toEqual({ high: 0, normal: 0, low: 0 });
    });

    it("claims each live request once in a batch whose claims other ops interleave", async () => {
      await store.apply([
        create(newRequest({ id: "a", createdAt: T0 })),
        create(newRequest({ id: "b", createdAt: T0 + 1 })),
        create(newRequest({ id: "c", createdAt: T0 + 2, kind: "video" })),
      ]);
      const results = await store.apply([
        claim(T0 + 10),
        claim(T0 + 10),
        to("b", "cancelled", T0 + 10),
        claim(T0 + 10, ["video"]),
        create(newRequest({ id: "d", createdAt: T0 + 10, lane: "high", priority: 0.9 })),
        claim(T0 + 10),
        claim(T0 + 10),
      ]);
      const claimed = results.flatMap((r) =>
        r.ok && r.queue?.type === "claim" && r.queue.request ? [r.queue.request.id] : [],
      );
      // Which claim gets which may differ by driver (b may be claimed before its cancel, or
      // cancelled while pending); that every request goes at most once, and none after its
      // cancel, may not.
      expect(new Set(claimed).size).toBe(claimed.length);
      expect(claimed).toEqual(expect.arrayContaining(["a", "c", "d"]));
      const b = await store.getRequest("b");
      expect(b?.status).toBe("cancelled");
      expect(b?.attempts).toBe(claimed.includes("b") ? 1 : 0);
      expect(claimed.length).toBe(claimed.includes("b") ? 4 : 3);
    });

    it("claims by kind", async () => {
      await store.apply([
        create(newRequest({ id: "a", kind: "chat" })),
        create(newRequest({ id: "b", kind: "video" })),
      ]);
      const result = await queueResult(claim(T0 + 1, ["video", "image"]));
      expect(result.type === "claim" && result.request?.id).toBe("b");
      const none = await queueResult(claim(T0 + 1, ["image"]));
      expect(none.type === "claim" && none.request).toBeNull();
    });

    it("extends a lease only for its worker while running", async () => {
      const r = newRequest();
      await store.apply([create(r), claim(T0 + 1, null, 1000)]);
      const beat = await queueResult({
        type: "heartbeat",
        at: T0 + 500,
        requestId: r.id,
        workerId: "w1",
      });
      expect(beat).toEqual({ type: "heartbeat", alive: true });
      expect((await store.getRequest(r.id))?.leaseExpiresAt).toEqual(new Date(T0 + 1500));
      const stranger = await queueResult({
        type: "heartbeat",
        at: T0 + 600,
        requestId: r.id,
        workerId: "w2",
      });
      expect(stranger).toEqual({ type: "heartbeat", alive: false });
    });

    it("sweeps: run timeouts, expired leases, passed deadlines, stale requests and aging", async () => {
      await store.apply([
        create(newRequest({ id: "slow", timeoutMs: 1000, createdAt: T0 })),
        create(newRequest({ id: "orphan", createdAt: T0 + 1 })),
        create(newRequest({ id: "late", deadlineAt: T0 + 500, createdAt: T0 + 2, lane: "high" })),
        create(newRequest({ id: "old", createdAt: T0 + 3, lane: "low" })),
      ]);
      await store.apply([
        to("slow", "running", T0 + 10, { workerId: "w1" }),
        to("orphan", "running", T0 + 10, { workerId: "w1", leaseMs: 100 }),
      ]);
      const result = await queueResult({
        type: "sweep",
        at: T0 + 2000,
        staleAfterMs: null,
        maxWaitMs: { low: 1000 },
        limit: 100,
      });
      if (result.type !== "sweep") throw new Error("not a sweep");
      expect(result.result.changes.map((c) => [c.requestId, c.to, c.reason])).toEqual([
        ["slow", "timeout", "timeout"],
        ["orphan", "pending", "lease_expired"],
        ["late", "timeout", "deadline"],
      ]);
      expect(result.result.promoted).toBe(1);
      expect(await store.getRequest("old")).toMatchObject({ lane: "normal", status: "pending" });
      expect(await store.getRequest("slow")).toMatchObject({
        errorMessage: "Generation timed out after 1 second",
      });
      const stale = await queueResult({
        type: "sweep",
        at: T0 + 3000,
        staleAfterMs: 1000,
        maxWaitMs: {},
        limit: 100,
      });
      expect(
        stale.type === "sweep" && stale.result.changes.map((c) => [c.requestId, c.to]),
      ).toEqual([
        ["orphan", "cancelled"],
        ["old", "cancelled"],
      ]);
    });

    it("releases a running request without using up its attempt", async () => {
      const r = newRequest();
      await store.apply([create(r), claim(T0 + 1)]);
      const released = await queueResult({
        type: "requeue",
        at: T0 + 5,
        requestId: r.id,
        workerId: "w1",
        reason: "released",
      });
      expect(released.type === "requeue" && released.change?.to).toBe("pending");
      expect(await store.getRequest(r.id)).toMatchObject({
        status: "pending",
        attempts: 0,
        workerId: null,
      });
      const again = await queueResult({
        type: "requeue",
        at: T0 + 6,
        requestId: r.id,
        workerId: "w1",
        reason: "released",
      });
      expect(again.type === "requeue" && again.change).toBeNull();
    });

    it("soft-deletes and hard-purges", async () => {
      const keep = newRequest({ createdAt: T0 + 10_000 });
      const old = newRequest({ createdAt: T0 });
      await store.apply([
        create(keep),
        create(old),
        to(old.id, "running", T0 + 1),
        stage(old.id, "s", "start", T0 + 2),
      ]);
      const [deleted] = await store.apply([
        { type: "delete", opId: opId(), at: T0 + 3, requestId: keep.id },
      ]);
      expect(deleted?.ok).toBe(true);
      expect(await store.getRequest(keep.id)).toBeNull();
      expect(await store.getRequest(keep.id, { includeDeleted: true })).toMatchObject({
        deletedAt: new Date(T0 + 3),
      });
      expect(await store.queueDepth()).toEqual({ high: 0, normal: 0, low: 0 });
      expect(await store.purge(T0 + 5000, 1)).toEqual({
        requests: 1,
        stages: 1,
        events: 3,
        costs: 0,
      });
      expect(await store.getRequest(old.id, { includeDeleted: true })).toBeNull();
      expect(await store.getRequest(keep.id, { includeDeleted: true })).not.toBeNull();
    });

    it("reports what each op changed, with tenant, kind and status, when asked", async () => {
      const r = newRequest({ tenantId: "t1", kind: "video" });
      const results = await store.apply(
        [
          create(r),
          to(r.id, "running", T0 + 1),
          stage(r.id, "s", "start", T0 + 2),
          {
            type: "event",
            opId: opId(),
            at: T0 + 3,
            requestId: r.id,
            eventType: "x",
            severity: "info",
            message: "m",
            stage: null,
            data: null,
          },
          {
            type: "cost",
            opId: opId(),
            at: T0 + 4,
            requestId: r.id,
            service: "openai",
            amountMicros: 5,
            usage: null,
            stage: null,
          },
          { type: "sweep", at: T0 + 1_000_000, staleAfterMs: null, maxWaitMs: {}, limit: 10 },
        ],
        { changes: true },
      );
      const changes = results.map((x) =>
        x.ok ? (x.changes ?? []).map((c) => [c.type, c.status]) : "error",
      );
      expect(changes).toEqual([
        [["request.created", "pending"]],
        [["request.updated", "running"]],
        [["stage.updated", "running"]],
        [["event.logged", "running"]],
        [["request.updated", "running"]],
        [["request.updated", "timeout"]],
      ]);
      for (const result of results) {
        for (const change of (result.ok && result.changes) || []) {
          expect(change).toMatchObject({ requestId: r.id, tenantId: "t1", kind: "video" });
        }
      }
      const quiet = await store.apply([to(r.id, "pending", T0 + 2_000_000)]);
      expect(quiet[0]).toMatchObject({ ok: true });
      expect(quiet[0]?.ok && quiet[0].changes).toBeFalsy();
    });

    it("tells an outage from a bad request", () => {
      expect(store.isUnavailable(new Error("boom"))).toBe(false);
      expect(store.isUnavailable(null)).toBe(false);
    });
  });
}
