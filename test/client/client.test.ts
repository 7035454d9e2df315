import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type ClientOptions,
  ClosedError,
  createClient,
  ForbiddenError,
  InvalidTransitionError,
  NotFoundError,
  type RemoteClient,
  UnauthorizedError,
  ValidationError,
} from "../../src/client/index.js";
import { currentRequest } from "../../src/context/request-handle.js";
import { captureLogger, tempDir } from "../support/helpers.js";
import { startServer, type TestServer } from "./server.js";

/** The rejection of `promise`, or a failure when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: Record<string, unknown>) => error,
  );
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("remote client against a real server", () => {
  let dir: ReturnType<typeof tempDir>;
  let server: TestServer;
  let key: string;
  const clients: RemoteClient[] = [];

  const connect = (options: Partial<ClientOptions> = {}) => {
    const client = createClient({
      url: server.url,
      apiKey: key,
      logger: captureLogger("error").logger,
      ...options,
    });
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    dir = tempDir();
    server = await startServer(dir.file("server.db"));
    key = server.adminKey as string;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server.stop();
    dir.cleanup();
  });

  it("runs a whole lifecycle and stores exactly what the library stores, with Dates", async () => {
    const client = connect({ flushIntervalMs: 5 });
    const deadline = new Date(Date.now() + 3_600_000);
    const req = await client.createRequest({
      userId: "user-1",
      tenantId: "guild-42",
      kind: "video_generation",
      initialMessage: "A fjord at sunrise",
      priority: 0.8,
      tags: ["vip", "vip"],
      deadline,
      maxAttempts: 3,
    });
    expect(req.id).toMatch(/^req_/);
    expect(req).toMatchObject({
      status: "pending",
      lane: "high",
      tags: ["vip"],
      deadline,
      maxAttempts: 3,
      timeoutMs: null,
    });

    await client.startRequest(req, "worker-1");
    const script = await client.trackStage(req.id, "script", async () => {
      expect(currentRequest()?.stage).toBe("script");
      await currentRequest()?.logEvent({ type: "api_call", message: "Calling Gemini" });
      await currentRequest()?.recordCost({ service: "gemini", amountUsd: 0.0045 });
      return { words: 420 };
    });
    const cdn = Object.assign(new Error("CDN 503"), { retryable: true });
    await expect(
      client.trackStage(req, "upload", async () => {
        throw cdn;
      }),
    ).rejects.toBe(cdn);
    await client.increment(req, "tool_calls", 2);
    await client.increment(req, "tool_calls");
    await client.failRequest(req, "CDN 503");
    await client.retryRequest(req);

    const claimed = await client.claimNext({
      workerId: "worker-2",
      kinds: ["video_generation"],
      leaseMs: 10_000,
    });
    expect(claimed).toMatchObject({ id: req.id, status: "running", attempts: 2 });
    expect(claimed?.leaseExpiresAt).toBeInstanceOf(Date);
    expect(await client.heartbeat(req, "worker-2")).toBe(true);
    expect(await client.heartbeat(req, "worker-9")).toBe(false);
    await client.completeRequest(req, { url: "https://cdn/v.mp4", words: script.words });

    const remote = await client.getRequest(req.id);
    expect(remote).toEqual(await server.tracker.getRequest(req.id));
    expect(remote).toMatchObject({
      status: "completed",
      costUsd: 0.0045,
      counters: { tool_calls: 3 },
      result: { url: "https://cdn/v.mp4", words: 420 },
      createdAt: req.createdAt,
    });
    expect(remote?.completedAt).toBeInstanceOf(Date);
    expect(remote?.stages.map((s) => [s.name, s.status, s.retryable])).toEqual([
      ["script", "completed", null],
      ["upload", "failed", true],
    ]);
    expect(remote?.costs[0]?.ts).toBeInstanceOf(Date);
    expect(await client.getEvents(req)).toEqual(await server.tracker.getEvents(req.id));

    const filter = { status: ["completed" as const], tenantId: "guild-42", tag: "vip", from: 0 };
    expect(await client.listRequests(filter)).toEqual(await server.tracker.listRequests(filter));
    expect(await client.getUserRequests("user-1")).toEqual(
      await server.tracker.getUserRequests("user-1"),
    );
    expect(await client.queueDepth()).toEqual({ high: 0, normal: 0, low: 0, total: 0 });
    await client.deleteRequest(req);
    expect(await client.getRequest(req)).toBeNull();
    expect(await client.getEvents("req_unknown")).toEqual([]);
  });

  it("turns many concurrent calls into few ingest calls, one at a time, in order", async () => {
    const client = connect();
    const req = await client.createRequest({ userId: "batcher" });
    await Promise.all(range(1200).map(() => client.increment(req, "hits")));
    // 500 ops cut a batch at once; the rest waits for the 50 ms tick.
    expect(server.ingest.calls).toEqual([1, 500, 500, 200]);
    await Promise.all(range(300).map((i) => client.logEvent(req, { type: "tick", data: { i } })));
    expect(server.ingest.calls.slice(4)).toEqual([300]);
    expect(server.ingest.maxConcurrent).toBe(1);

    expect((await client.getRequest(req))?.counters).toEqual({ hits: 1200 });
    const ticks = (await client.getEvents(req))
      .filter((e) => e.type === "tick")
      .map((e) => (e.data as { i: number }).i);
    expect(ticks).toEqual(range(300));
  });

  it("answers flush() once everything queued so far is acknowledged", async () => {
    const client = connect({ flushIntervalMs: 60_000 });
    const req = client.createRequest({ userId: "flusher" });
    await client.flush();
    expect(server.ingest.calls).toEqual([1]);
    expect(await server.tracker.getRequest((await req).id)).toMatchObject({ status: "pending" });
  });

  it("splits a batch the server finds too large, and still lands every op once, in order", async () => {
    await server.stop();
    server = await startServer(dir.file("small.db"), 0, { bodyLimit: 64 * 1024 });
    key = server.adminKey as string;
    const client = connect({ maxBatchBytes: 16 * 1024 * 1024 });
    const req = await client.createRequest({ userId: "big" });
    const blob = "x".repeat(10 * 1024);
    await Promise.all(
      range(20).map((i) => client.logEvent(req, { type: "blob", data: { i, blob } })),
    );
    const blobs = (await server.tracker.getEvents(req.id)).filter((e) => e.type === "blob");
    expect(blobs.map((e) => (e.data as { i: number }).i)).toEqual(range(20));
    // 200 KiB of events against a 64 KiB body limit: refused whole (413), then sent in halves.
    expect(server.ingest.calls.length).toBeGreaterThan(2);
    expect(server.ingest.calls.slice(1).reduce((a, b) => a + b, 0)).toBe(20);
  });

  it("returns the stored request when a caller-chosen id already exists", async () => {
    const client = connect({ flushIntervalMs: 5 });
    const first = await client.createRequest({ id: "req_fixed_1", userId: "first" });
    expect(first).toMatchObject({ id: "req_fixed_1", maxAttempts: null, timeoutMs: null });
    const again = await client.createRequest({ id: "req_fixed_1", userId: "second" });
    expect(again).toEqual(await server.tracker.getRequest("req_fixed_1"));
    expect(again).toMatchObject({ userId: "first", maxAttempts: 3 });
    expect((await server.tracker.listRequests()).total).toBe(1);
  });

  it("rejects with the library's error classes, and a bad op fails alone", async () => {
    const client = connect();
    const req = await client.createRequest({ userId: "errors" });

    const [before, refused, after] = await Promise.allSettled([
      client.logEvent(req, { type: "before" }),
      client.completeRequest(req, "too soon"),
      client.logEvent(req, { type: "after" }),
    ]);
    expect([before.status, after.status]).toEqual(["fulfilled", "fulfilled"]);
    const invalid = (refused as PromiseRejectedResult).reason as InvalidTransitionError;
    expect(invalid).toBeInstanceOf(InvalidTransitionError);
    expect(invalid).toMatchObject({
      code: "RT_ERR_INVALID_TRANSITION",
      from: "pending",
      to: "completed",
    });
    expect((await server.tracker.getRequest(req.id))?.status).toBe("pending");

    // Checked on the client, before anything is sent...
    const negative = await rejection(client.recordCost(req, { service: "openai", amountUsd: -1 }));
    expect(negative).toBeInstanceOf(ValidationError);
    expect(negative).toMatchObject({ code: "RT_ERR_VALIDATION", field: "amountUsd" });
    expect(await rejection(client.createRequest({ userId: "" }))).toMatchObject({
      field: "userId",
    });
    // ...and on the server: an op stamped 10 minutes ahead is refused there.
    const ahead = connect({ clock: () => Date.now() + 10 * 60_000 });
    const skewed = await rejection(ahead.logEvent(req, { type: "late" }));
    expect(skewed).toBeInstanceOf(ValidationError);
    expect(skewed).toMatchObject({ field: "at", message: "at: is too far in the future" });

    const missing = await rejection(client.logEvent("req_missing", { type: "x" }));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ code: "RT_ERR_NOT_FOUND", requestId: "req_missing" });
  });

  it("rejects writes and reads with RT_ERR_UNAUTHORIZED for a wrong key, and keeps nothing", async () => {
    const stranger = connect({ apiKey: "rt_not_a_key" });
    const write = await rejection(stranger.createRequest({ userId: "u" }));
    expect(write).toBeInstanceOf(UnauthorizedError);
    expect(write).toMatchObject({ code: "RT_ERR_UNAUTHORIZED", status: 401 });
    expect(stranger.degraded).toBe(false);
    await expect(stranger.listRequests()).rejects.toMatchObject({ code: "RT_ERR_UNAUTHORIZED" });

    const { key: viewerKey } = await server.tracker.keys.create({
      role: "viewer",
      tenantId: "guild-1",
    });
    const viewer = connect({ apiKey: viewerKey });
    await expect(viewer.createRequest({ userId: "u" })).rejects.toBeInstanceOf(ForbiddenError);
    expect((await viewer.listRequests()).total).toBe(0);
    expect((await server.tracker.listRequests()).total).toBe(0);
  });

  it("refuses every call after close()", async () => {
    const client = connect();
    await client.close();
    await expect(client.createRequest({ userId: "u" })).rejects.toBeInstanceOf(ClosedError);
    await expect(client.getRequest("req_x")).rejects.toMatchObject({ code: "RT_ERR_CLOSED" });
  });
});
