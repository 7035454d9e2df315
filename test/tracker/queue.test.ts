import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createTracker,
  currentRequest,
  currentRequestId,
  InvalidTransitionError,
  type Tracker,
  type TrackerOptions,
} from "../../src/index.js";
import { captureLogger, fakeClock, type LogLine, tempDir } from "../support/helpers.js";

const MINUTE = 60_000;

describe("queue", () => {
  let tracker: Tracker;
  let time: ReturnType<typeof fakeClock>;
  let lines: LogLine[];

  const open = async (options: TrackerOptions = {}) => {
    const captured = captureLogger();
    lines = captured.lines;
    tracker = await createTracker({
      storage: ":memory:",
      clock: time.clock,
      logger: captured.logger,
      watchdogIntervalMs: 0,
      ...options,
    });
  };

  beforeEach(async () => {
    time = fakeClock();
    await open();
  });
  afterEach(async () => {
    await tracker.close();
  });

  const enqueue = async (userId: string, priority: number, extra: object = {}) => {
    const req = await tracker.createRequest({ userId, priority, ...extra });
    time.advance(1000);
    return req;
  };
  const claimAll = async (workerId = "w1", kinds?: string[]) => {
    const order: string[] = [];
    for (
      let r = await tracker.claimNext({ workerId, kinds });
      r;
      r = await tracker.claimNext({ workerId, kinds })
    ) {
      order.push(r.userId);
    }
    return order;
  };

  describe("lanes", () => {
    it("claims by lane, then earliest deadline, then oldest", async () => {
      const deadline = (min: number) => new Date(time.now() + min * MINUTE);
      await enqueue("low-old", 0.1);
      await enqueue("normal-old", 0.5);
      await enqueue("high-no-deadline", 0.9);
      await enqueue("normal-late-deadline", 0.3, { deadline: deadline(30) });
      await enqueue("high-deadline", 0.7, { deadline: deadline(60) });
      await enqueue("normal-soon-deadline", 0.69, { deadline: deadline(10) });
      await enqueue("low-new", 0.29);
      expect(await tracker.queueDepth()).toEqual({ high: 2, normal: 3, low: 2, total: 7 });
      expect(await claimAll()).toEqual([
        "high-deadline",
        "high-no-deadline",
        "normal-soon-deadline",
        "normal-late-deadline",
        "normal-old",
        "low-old",
        "low-new",
      ]);
      expect(await tracker.queueDepth()).toEqual({ high: 0, normal: 0, low: 0, total: 0 });
    });

    it("claims only the kinds asked for, still in lane order", async () => {
      await enqueue("chat-high", 0.9, { kind: "chat_message" });
      await enqueue("video-low", 0.1, { kind: "video_generation" });
      await enqueue("image-normal", 0.5, { kind: "image_generation" });
      await enqueue("video-high", 0.8, { kind: "video_generation" });
      expect(await claimAll("w1", ["video_generation", "image_generation"])).toEqual([
        "video-high",
        "image-normal",
        "video-low",
      ]);
      expect(await claimAll("w2", [])).toEqual([]);
      expect(await claimAll("w3")).toEqual(["chat-high"]);
    });

    it("ages a starved request up one lane per maxWaitMs", async () => {
      await tracker.close();
      await open({ maxWaitMs: { low: 5 * MINUTE, normal: 10 * MINUTE } });
      const starved = await enqueue("starved", 0.1);
      time.advance(6 * MINUTE);
      await enqueue("fresh-normal", 0.5);
      expect((await tracker.sweep()).promoted).toBe(1);
      expect((await tracker.getRequest(starved))?.lane).toBe("normal");
      // A second pass right away does not move it again: it waits its turn in the new lane.
      expect((await tracker.sweep()).promoted).toBe(0);
      time.advance(11 * MINUTE);
      await tracker.sweep();
      expect((await tracker.getRequest(starved))?.lane).toBe("high");
      expect(await claimAll()).toEqual(["starved", "fresh-normal"]);
    });

    it("leases a claim to its worker and lists it among the active requests", async () => {
      const req = await enqueue("u", 0.5);
      const claimed = await tracker.claimNext({ workerId: "w1", leaseMs: 20_000 });
      expect(claimed).toMatchObject({ id: req.id, status: "running", workerId: "w1", attempts: 1 });
      expect(claimed?.leaseExpiresAt?.getTime()).toBe(time.now() + 20_000);
      expect((await tracker.activeRequests()).map((r) => [r.id, r.workerId])).toEqual([
        [req.id, "w1"],
      ]);
      time.advance(15_000);
      expect(await tracker.heartbeat(req, "w1")).toBe(true);
      expect((await tracker.getRequest(req))?.leaseExpiresAt?.getTime()).toBe(time.now() + 20_000);
      expect(await tracker.heartbeat(req, "intruder")).toBe(false);
      await tracker.completeRequest(req);
      expect(await tracker.heartbeat(req, "w1")).toBe(false);
      expect(await tracker.activeRequests()).toEqual([]);
    });
  });

  describe("watchdog", () => {
    it("requeues an expired lease, then fails it with 'lease expired' once attempts are used up", async () => {
      const req = await enqueue("u", 0.5, { maxAttempts: 2 });
      await tracker.claimNext({ workerId: "w1", leaseMs: 30_000 });
      time.advance(29_999);
      expect((await tracker.sweep()).requeued).toBe(0);
      time.advance(1);
      const first = await tracker.sweep();
      expect(first).toMatchObject({ requeued: 1, failed: 0 });
      expect(await tracker.getRequest(req)).toMatchObject({
        status: "pending",
        attempts: 1,
        workerId: null,
        leaseExpiresAt: null,
        errorMessage: "lease expired",
      });
      await tracker.claimNext({ workerId: "w2", leaseMs: 30_000 });
      time.advance(30_000);
      expect(await tracker.sweep()).toMatchObject({ requeued: 0, failed: 1 });
      expect(await tracker.getRequest(req)).toMatchObject({
        status: "failed",
        attempts: 2,
        errorMessage: "lease expired",
      });
      expect(lines.some((l) => l.reason === "lease_expired" && l.new_status === "failed")).toBe(
        true,
      );
    });

    it("times out a run past its limit and refuses its worker's late completion", async () => {
      const req = await enqueue("u", 0.5);
      await tracker.claimNext({ workerId: "w1", leaseMs: 60 * MINUTE });
      await tracker.startStage(req, "video_generation");
      time.advance(5 * MINUTE);
      const report = await tracker.sweep();
      expect(report.timedOut).toBe(1);
      const timedOut = await tracker.getRequest(req);
      expect(timedOut).toMatchObject({
        status: "timeout",
        errorMessage: "Generation timed out after 5 minutes",
        errorStage: "video_generation",
        durationMs: 5 * MINUTE,
      });
      await expect(tracker.completeRequest(req, { late: true })).rejects.toThrowError(
        InvalidTransitionError,
      );
      expect(await tracker.getRequest(req)).toEqual(timedOut);
    });

    it("uses the per-kind and per-request limits for run timeouts", async () => {
      await tracker.close();
      await open({ timeouts: { video_generation: 10 * MINUTE }, leaseMs: 60 * MINUTE });
      const video = await enqueue("video", 0.5, { kind: "video_generation" });
      const quick = await enqueue("quick", 0.5, { timeoutMs: MINUTE });
      await claimAll();
      time.advance(2 * MINUTE);
      expect((await tracker.sweep()).changes.map((c) => c.requestId)).toEqual([quick.id]);
      time.advance(8 * MINUTE);
      expect((await tracker.sweep()).changes.map((c) => c.requestId)).toEqual([video.id]);
      expect((await tracker.getRequest(video))?.errorMessage).toBe(
        "Generation timed out after 10 minutes",
      );
    });

    it("times out a pending request past its deadline and cancels stale ones", async () => {
      await tracker.close();
      await open({ staleAfterMs: 60 * MINUTE });
      const due = await enqueue("due", 0.5, { deadline: time.now() + 10 * MINUTE });
      const old = await enqueue("old", 0.5);
      time.advance(10 * MINUTE);
      expect(await tracker.sweep()).toMatchObject({ deadlinesPassed: 1, stale: 0 });
      expect(await tracker.getRequest(due)).toMatchObject({ status: "timeout", durationMs: null });
      time.advance(50 * MINUTE);
      expect(await tracker.sweep()).toMatchObject({ stale: 1 });
      expect(await tracker.getRequest(old)).toMatchObject({
        status: "cancelled",
        errorMessage: "stale",
      });
    });

    it("leaves pending requests alone when staleAfterMs is off (the default)", async () => {
      const req = await enqueue("u", 0.5);
      time.advance(365 * 24 * 60 * MINUTE);
      expect((await tracker.sweep()).changes).toEqual([]);
      expect((await tracker.getRequest(req))?.status).toBe("pending");
    });

    it("also runs by itself on a timer", async () => {
      await tracker.close();
      await open({ watchdogIntervalMs: 20 });
      const req = await enqueue("u", 0.5);
      await tracker.claimNext({ workerId: "w1", leaseMs: 1000 });
      time.advance(1000);
      await vi.waitFor(
        async () => expect((await tracker.getRequest(req))?.status).toBe("pending"),
        { timeout: 5000 },
      );
    });
  });

  describe("retry", () => {
    it("resumes at the failed stage: the next claim sees errorStage and earlier outputs, stage attempts numbered", async () => {
      const req = await enqueue("u", 0.5);
      const first = await tracker.claimNext({ workerId: "w1" });
      expect(first?.stages).toEqual([]);
      await tracker.trackStage(req, "rag_retrieval", () => ({ chunks: 5 }));
      await tracker
        .trackStage(req, "video_generation", () => {
          throw new Error("GPU quota");
        })
        .catch(() => {});
      await tracker.failRequest(req, "GPU quota");
      await tracker.retryRequest(req);
      const again = await tracker.claimNext({ workerId: "w2" });
      expect(again).toMatchObject({ id: req.id, attempts: 2, errorStage: "video_generation" });
      expect(again?.stages.map((s) => [s.name, s.attempt, s.status, s.output])).toEqual([
        ["rag_retrieval", 1, "completed", { chunks: 5 }],
        ["video_generation", 1, "failed", null],
      ]);
      await tracker.trackStage(req, "video_generation", () => "ok");
      await tracker.completeRequest(req);
      const done = await tracker.getRequest(req);
      expect(done?.stages.map((s) => [s.name, s.attempt, s.status])).toContainEqual([
        "video_generation",
        2,
        "completed",
      ]);
    });
  });

  describe("soft delete and retention", () => {
    it("hides soft-deleted requests from lists and history unless includeDeleted", async () => {
      const kept = await enqueue("u", 0.5);
      const gone = await enqueue("u", 0.5);
      await tracker.recordCost(gone, { service: "openai", amountUsd: 0.5 });
      await tracker.deleteRequest(gone);
      await tracker.deleteRequest(gone);
      expect((await tracker.getUserRequests("u")).map((r) => r.id)).toEqual([kept.id]);
      expect(await tracker.getRequest(gone)).toBeNull();
      const all = await tracker.listRequests({ includeDeleted: true });
      expect(all.items.map((r) => r.id)).toEqual([gone.id, kept.id]);
      expect(all.items[0]).toMatchObject({ costUsd: 0.5 });
      expect(all.items[0]?.deletedAt?.getTime()).toBe(time.now());
      expect(await tracker.queueDepth()).toMatchObject({ total: 1 });
      expect(await tracker.claimNext({ workerId: "w" })).toMatchObject({ id: kept.id });
      expect(await tracker.claimNext({ workerId: "w" })).toBeNull();
      await expect(tracker.deleteRequest("req_missing")).rejects.toMatchObject({
        code: "RT_ERR_NOT_FOUND",
      });
    });

    it("cleanup hard-deletes old requests with their stages, events and costs and returns the counts", async () => {
      const old = await enqueue("u", 0.5);
      await tracker.claimNext({ workerId: "w" });
      await tracker.trackStage(old, "s", () => 1);
      await tracker.recordCost(old, { service: "openai", amountUsd: 1 });
      await tracker.completeRequest(old);
      time.advance(40 * 24 * 60 * MINUTE);
      const recent = await enqueue("u", 0.5);
      const counts = await tracker.cleanup({
        olderThan: new Date(time.now() - 30 * 24 * 60 * MINUTE),
      });
      expect(counts).toEqual({ requests: 1, stages: 1, events: 5, costs: 1 });
      expect((await tracker.listRequests({ includeDeleted: true })).items.map((r) => r.id)).toEqual(
        [recent.id],
      );
      expect(await tracker.getEvents(old)).toEqual([]);
    });

    it("with retentionDays, the watchdog deletes old requests once a day and logs the counts", async () => {
      await tracker.close();
      await open({ retentionDays: 30 });
      const old = await enqueue("u", 0.5);
      time.advance(31 * 24 * 60 * MINUTE);
      const recent = await enqueue("u", 0.5);
      const report = await tracker.sweep();
      expect(report.retention).toEqual({ requests: 1, stages: 0, events: 1, costs: 0 });
      expect(lines.find((l) => l.msg === "retention cleanup")).toMatchObject({
        retention_days: 30,
        deleted: { requests: 1 },
      });
      expect(await tracker.getRequest(old)).toBeNull();
      expect(await tracker.getRequest(recent)).not.toBeNull();
      time.advance(60 * MINUTE);
      expect((await tracker.sweep()).retention).toBeNull();
      time.advance(24 * 60 * MINUTE);
      expect((await tracker.sweep()).retention).toEqual({
        requests: 0,
        stages: 0,
        events: 0,
        costs: 0,
      });
    });

    it("prunes applied op ids past the 7-day dedupe window once a day", async () => {
      const req = await enqueue("u", 0.5);
      await tracker.ingest([
        { opId: "remote-1", type: "event", requestId: req.id, event: { type: "note" } },
      ]);
      expect((await tracker.sweep()).prunedOps).toBe(0);
      time.advance(60 * MINUTE);
      expect((await tracker.sweep()).prunedOps).toBeNull();
      time.advance(8 * 24 * 60 * MINUTE);
      expect((await tracker.sweep()).prunedOps).toBe(1);
      // Past the window, a resend is a new op.
      const [again] = await tracker.ingest([
        { opId: "remote-1", type: "event", requestId: req.id, event: { type: "note" } },
      ]);
      expect(again).toMatchObject({ ok: true });
      expect(again && "duplicate" in again).toBe(false);
    });

    it("reads REQUEST_RETENTION_DAYS, and keeps everything when it is unset", async () => {
      vi.stubEnv("REQUEST_RETENTION_DAYS", "7");
      try {
        await tracker.close();
        await open();
        await enqueue("u", 0.5);
        time.advance(8 * 24 * 60 * MINUTE);
        expect((await tracker.sweep()).retention).toMatchObject({ requests: 1 });
        vi.stubEnv("REQUEST_RETENTION_DAYS", "");
        await tracker.close();
        await open();
        expect((await tracker.sweep()).retention).toBeNull();
        vi.stubEnv("REQUEST_RETENTION_DAYS", "soon");
        await expect(createTracker({ storage: ":memory:" })).rejects.toMatchObject({
          field: "REQUEST_RETENTION_DAYS",
        });
      } finally {
        vi.unstubAllEnvs();
      }
    });
  });

  describe("work()", () => {
    it("runs handlers in the request's scope, completes with the result, fails with the error", async () => {
      const ok = await enqueue("ok", 0.9);
      const bad = await enqueue("bad", 0.5);
      const seen: [string, string][] = [];
      const worker = tracker.work({ concurrency: 2, pollMs: 10 }, async (req) => {
        await Promise.resolve();
        seen.push([req.id, currentRequestId()]);
        await currentRequest()?.logEvent({ type: "handled", message: "via the scope handle" });
        if (req.userId === "bad") {
          await tracker.startStage(req, "render");
          throw Object.assign(new TypeError("bad frame"), { stage: "render" });
        }
        return { url: `https://cdn/${req.id}` };
      });
      await vi.waitFor(async () =>
        expect((await tracker.queueDepth()).total + (await tracker.activeRequests()).length).toBe(
          0,
        ),
      );
      await worker.stop();
      expect(seen.sort()).toEqual(
        [
          [bad.id, bad.id],
          [ok.id, ok.id],
        ].sort(),
      );
      expect(await tracker.getRequest(ok)).toMatchObject({
        status: "completed",
        result: { url: `https://cdn/${ok.id}` },
      });
      const failed = await tracker.getRequest(bad);
      expect(failed).toMatchObject({
        status: "failed",
        errorMessage: "bad frame",
        errorStage: "render",
        errorDetails: { exceptionType: "TypeError" },
      });
      expect(currentRequestId()).toBe("unknown");
      expect((await tracker.getEvents(ok)).map((e) => e.type)).toContain("handled");
    });

    it("stops an idle worker at once, without waiting out its poll interval", async () => {
      const worker = tracker.work({ pollMs: 3_600_000 }, () => null);
      await new Promise((resolve) => setImmediate(resolve));
      const stopped = worker.stop();
      const timedOut = new Promise((resolve) =>
        setTimeout(() => resolve("still waiting"), 2_000).unref(),
      );
      expect(await Promise.race([stopped.then(() => "stopped"), timedOut])).toBe("stopped");
    });

    it("heartbeats while a handler runs", async () => {
      const req = await enqueue("u", 0.5);
      let release!: () => void;
      const blocker = new Promise<void>((resolve) => {
        release = resolve;
      });
      const worker = tracker.work({ leaseMs: 30_000, heartbeatMs: 5, pollMs: 10 }, () => blocker);
      await vi.waitFor(async () => expect((await tracker.getRequest(req))?.status).toBe("running"));
      const claimedLease = (await tracker.getRequest(req))?.leaseExpiresAt?.getTime();
      time.advance(20_000);
      await vi.waitFor(async () =>
        expect((await tracker.getRequest(req))?.leaseExpiresAt?.getTime()).toBe(
          time.now() + 30_000,
        ),
      );
      expect(claimedLease).toBeLessThan(time.now() + 30_000);
      time.advance(20_000);
      expect((await tracker.sweep()).requeued).toBe(0);
      release();
      await worker.stop();
      expect((await tracker.getRequest(req))?.status).toBe("completed");
    });

    it("close() stops claiming, waits for handlers, and gives unfinished requests back", async () => {
      const dir = tempDir();
      try {
        await tracker.close();
        await open({ storage: dir.file("shutdown.db"), shutdownGraceMs: 30 });
        const quick = await enqueue("quick", 0.9);
        const stuck = await enqueue("stuck", 0.5);
        const waiting = await enqueue("waiting", 0.1);
        let aborted: unknown = null;
        tracker.work({ concurrency: 2, pollMs: 10 }, (req, { signal }) => {
          if (req.userId === "quick") return "done";
          return new Promise((_, reject) => {
            signal.addEventListener("abort", () => {
              aborted = signal.reason;
              reject(signal.reason);
            });
          });
        });
        await vi.waitFor(async () =>
          expect((await tracker.getRequest(stuck))?.status).toBe("running"),
        );
        await vi.waitFor(async () =>
          expect((await tracker.getRequest(quick))?.status).toBe("completed"),
        );
        await tracker.close();
        expect(String(aborted)).toContain("shutting down");

        await open({ storage: dir.file("shutdown.db") });
        expect(await tracker.getRequest(stuck)).toMatchObject({
          status: "pending",
          attempts: 0,
          workerId: null,
          leaseExpiresAt: null,
          errorMessage: null,
        });
        expect(await tracker.getRequest(waiting)).toMatchObject({ status: "pending", attempts: 0 });
        expect(await tracker.getRequest(quick)).toMatchObject({
          status: "completed",
          result: "done",
        });
        const released = (await tracker.getEvents(stuck)).at(-1);
        expect(released).toMatchObject({ type: "status_changed", data: { reason: "released" } });
      } finally {
        await tracker.close();
        dir.cleanup();
      }
    });
  });
});
