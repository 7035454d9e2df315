import { readFileSync, writeFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ClientOptions,
  createClient,
  InvalidTransitionError,
  type RemoteClient,
  StoreUnavailableError,
} from "../../src/client/index.js";
import type { Tracker } from "../../src/index.js";
import { captureLogger, LEVEL, tempDir } from "../support/helpers.js";
import { startServer, type TestServer } from "./server.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const outboxLines = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.length > 0).length;

/** Each event of `type`, by its `data.i`, in history order. */
async function steps(tracker: Tracker, id: string, type = "step"): Promise<number[]> {
  return (await tracker.getEvents(id))
    .filter((e) => e.type === type)
    .map((e) => (e.data as { i: number }).i);
}

async function statusHistory(tracker: Tracker, id: string): Promise<string[]> {
  return (await tracker.getEvents(id))
    .filter((e) => e.type === "status_changed")
    .map((e) => `${(e.data as { from: string }).from}->${(e.data as { to: string }).to}`);
}

describe("remote client across server outages", () => {
  let dir: ReturnType<typeof tempDir>;
  let storage: string;
  let outboxPath: string;
  let server: TestServer;
  let key: string;
  const clients: RemoteClient[] = [];

  /** Fast timers, so a test waits milliseconds for a replay rather than seconds. */
  const connect = (options: Partial<ClientOptions> = {}) => {
    const client = createClient({
      url: server.url,
      apiKey: key,
      outboxPath,
      flushIntervalMs: 5,
      replayIntervalMs: 10,
      maxReplayIntervalMs: 50,
      closeTimeoutMs: 200,
      logger: captureLogger("error").logger,
      ...options,
    });
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    dir = tempDir();
    storage = dir.file("server.db");
    outboxPath = dir.file("client/outbox.ndjson");
    server = await startServer(storage);
    key = server.adminKey as string;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server.stop();
    dir.cleanup();
  });

  it("keeps writing while the server restarts mid-stream, then lands every op exactly once, in order", async () => {
    const { logger, lines } = captureLogger("warn");
    const client = connect({ logger });
    const req = await client.createRequest({ userId: "restart", kind: "chat_message" });
    await client.startRequest(req, "worker-1");
    const writes: Promise<unknown>[] = [];
    const step = (i: number) =>
      writes.push(
        client.logEvent(req, { type: "step", data: { i } }),
        client.recordCost(req, { service: "openai", amountUsd: 0.001 }),
        client.increment(req, "steps"),
      );

    // A steady stream of writes, with the server stopped and restarted (same port, same
    // file) under it: some batches are in flight when it goes, some queued, some made while down.
    let produced = 0;
    let reopened = () => {};
    const back = new Promise<void>((resolve) => {
      reopened = resolve;
    });
    const producer = (async () => {
      for (const i of range(90)) {
        if (i === 60) await back;
        step(i);
        produced = i + 1;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await vi.waitFor(() => expect(produced).toBeGreaterThanOrEqual(20), { timeout: 10_000 });
    const first = server;
    const port = server.port;
    await server.stop();
    await vi.waitFor(() => expect(produced).toBe(60), { timeout: 10_000 });
    const offline = await client.createRequest({ userId: "restart", kind: "render" });
    await client.startRequest(offline, "worker-2");
    await client.trackStage(offline, "render", () => ({ frames: 240 }));
    await client.completeRequest(offline, { ok: true });
    // Offline, the lifecycle is still enforced for what the client knows.
    await expect(client.startRequest(offline, "worker-2")).rejects.toBeInstanceOf(
      InvalidTransitionError,
    );
    await client.flush();
    await Promise.all(writes);

    expect(client.degraded).toBe(true);
    expect(first.ingest.calls.length).toBeGreaterThan(0);
    expect(outboxLines(outboxPath)).toBeGreaterThan(6);
    const down = await client.getRequest(req).catch((error: unknown) => error);
    expect(down).toBeInstanceOf(StoreUnavailableError);
    expect(down).toMatchObject({ code: "RT_ERR_STORE_UNAVAILABLE" });
    expect(lines.some((line) => line.level === LEVEL.warn && /outbox/.test(line.msg))).toBe(true);

    server = await startServer(storage, port);
    reopened();
    await producer;
    await vi.waitFor(() => expect(client.degraded).toBe(false), { timeout: 10_000 });
    await client.completeRequest(req, "done");
    await Promise.all(writes);
    await client.flush();

    const { tracker } = server;
    expect(await steps(tracker, req.id)).toEqual(range(90));
    const stored = await tracker.getRequest(req.id);
    expect(stored).toMatchObject({ status: "completed", counters: { steps: 90 }, costUsd: 0.09 });
    expect(stored?.costs).toHaveLength(90);
    expect(await statusHistory(tracker, req.id)).toEqual([
      "pending->running",
      "running->completed",
    ]);
    expect(await tracker.getRequest(offline.id)).toMatchObject({
      status: "completed",
      result: { ok: true },
      createdAt: offline.createdAt,
      stages: [{ name: "render", status: "completed", output: { frames: 240 } }],
    });
    expect(await statusHistory(tracker, offline.id)).toEqual([
      "pending->running",
      "running->completed",
    ]);
    expect(outboxLines(outboxPath)).toBe(0);
    // The reads see it too, now that the server is back.
    expect(await client.getRequest(req)).toEqual(stored);
  });

  it("resends a batch whose answer was lost, and the server applies it once", async () => {
    const client = connect();
    const req = await client.createRequest({ userId: "lost-answer" });
    server.dropAnswers(1);
    await Promise.all([
      ...range(10).map((i) => client.logEvent(req, { type: "step", data: { i } })),
      ...range(5).map(() => client.recordCost(req, { service: "openai", amountUsd: 0.25 })),
      ...range(5).map(() => client.increment(req, "calls")),
    ]);
    await vi.waitFor(() => expect(client.degraded).toBe(false));

    // The first call was applied but its answer cut off; the resend is the same 20 ops.
    expect(server.ingest.calls).toEqual([1, 20, 20]);
    expect(await steps(server.tracker, req.id)).toEqual(range(10));
    expect(await server.tracker.getRequest(req.id)).toMatchObject({
      costUsd: 1.25,
      counters: { calls: 5 },
    });
  });

  it("leaves an undrained outbox on disk for the next client, whose replay of known ops changes nothing", async () => {
    const first = connect();
    const req = await first.createRequest({ userId: "handover" });
    const port = server.port;
    await server.stop();
    await Promise.all(range(20).map((i) => first.logEvent(req, { type: "step", data: { i } })));
    await first.close();
    expect(outboxLines(outboxPath)).toBe(20);
    const saved = readFileSync(outboxPath, "utf8");

    server = await startServer(storage, port);
    const second = connect();
    await vi.waitFor(() => expect(second.degraded).toBe(false));
    await second.close();
    expect(await steps(server.tracker, req.id)).toEqual(range(20));

    // As if a client crashed after the server took the ops but before the file was cut.
    writeFileSync(outboxPath, saved);
    const third = connect();
    expect(third.degraded).toBe(true);
    expect(await third.replayOutbox()).toBe(true);
    expect(await steps(server.tracker, req.id)).toEqual(range(20));
    expect(outboxLines(outboxPath)).toBe(0);
  });

  it("times out a silent server, keeps the batch, and resends it once the server answers", async () => {
    const client = connect({ requestTimeoutMs: 300, outboxPath: undefined });
    const req = await client.createRequest({ userId: "slow" });
    // The create answered first: on a loaded machine its own call can pass the 300 ms, and
    // its resend then rides with the held batch. Only the held batch is counted below.
    await client.flush();
    await vi.waitFor(() => expect(client.degraded).toBe(false));
    const before = server.ingest.calls.length;
    const release = server.holdAnswer();
    await Promise.all(range(5).map((i) => client.logEvent(req, { type: "step", data: { i } })));
    expect(client.degraded).toBe(true);
    // The held call did apply the ops; the resends are answered as duplicates meanwhile.
    await vi.waitFor(() => expect(client.degraded).toBe(false));
    release();
    expect(await steps(server.tracker, req.id)).toEqual(range(5));
    expect(server.ingest.calls.slice(before, before + 2)).toEqual([5, 5]);
  });
});
