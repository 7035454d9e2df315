import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createTracker,
  InvalidTransitionError,
  StoreUnavailableError,
  ValidationError,
} from "../../src/index.js";
import { captureLogger, LEVEL, tempDir } from "../support/helpers.js";

/**
 * Degraded mode against a real outage: a second connection holds SQLite's write lock
 * (BEGIN EXCLUSIVE) for longer than the tracker's busy timeout.
 */
describe("degraded mode", () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let blocker: Database.Database;

  beforeEach(() => {
    dir = tempDir();
    path = dir.file("requests.db");
  });
  afterEach(() => {
    if (blocker?.open) blocker.close();
    dir.cleanup();
  });

  const lockStore = () => {
    blocker = new Database(path);
    blocker.exec("BEGIN EXCLUSIVE");
  };
  const unlockStore = () => blocker.exec("COMMIT");
  const open = (logger = captureLogger().logger) =>
    createTracker({ storage: path, busyTimeoutMs: 50, replayIntervalMs: 3_600_000, logger });

  it("keeps tracking while the store is locked and replays everything once it is free", async () => {
    const { logger, lines } = captureLogger();
    const tracker = await open(logger);
    const before = await tracker.createRequest({
      userId: "u",
      initialMessage: "made before the outage",
    });
    lockStore();

    const req = await tracker.createRequest({
      userId: "u",
      initialMessage: "made during the outage",
    });
    expect(req.id).toMatch(/^req_/);
    expect(tracker.degraded).toBe(true);
    await tracker.startRequest(req, "w1");
    await tracker.trackStage(req, "script_generation", async () => ({ words: 10 }));
    await tracker.logEvent(req, { type: "api_call", message: "Calling Gemini" });
    await tracker.recordCost(req, { service: "openai", amountUsd: 0.0045 });
    await tracker.increment(req, "tool_calls");
    await tracker.completeRequest(req, { url: "https://cdn/x.mp4" });
    await tracker.startRequest(before, "w2");

    const outage = lines.find(
      (l) => l.level === LEVEL.error && String(l.msg).includes("degraded mode"),
    );
    expect(outage?.request_ids).toContain(req.id);
    expect(readFileSync(`${path}.outbox.ndjson`, "utf8").trim().split("\n")).toHaveLength(9);
    expect(await tracker.getRequest(req.id)).toBeNull();

    unlockStore();
    expect(await tracker.replayOutbox()).toBe(true);
    expect(tracker.degraded).toBe(false);
    expect(readFileSync(`${path}.outbox.ndjson`, "utf8")).toBe("");

    const got = await tracker.getRequest(req.id);
    expect(got).toMatchObject({
      status: "completed",
      workerId: "w1",
      result: { url: "https://cdn/x.mp4" },
      costUsd: 0.0045,
      counters: { tool_calls: 1 },
      stages: [{ name: "script_generation", status: "completed", output: { words: 10 } }],
    });
    expect((await tracker.getEvents(req)).map((e) => e.type)).toEqual([
      "request_created",
      "status_changed",
      "stage_started",
      "stage_completed",
      "api_call",
      "status_changed",
    ]);
    expect((await tracker.getRequest(before.id))?.status).toBe("running");

    // Writes go straight to the store again.
    await tracker.completeRequest(before);
    expect(tracker.degraded).toBe(false);
    expect((await tracker.getRequest(before.id))?.status).toBe("completed");
    await tracker.close();
  });

  it("still throws for invalid transitions and invalid input while degraded", async () => {
    const tracker = await open();
    const done = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(done);
    await tracker.completeRequest(done);
    lockStore();
    const fresh = await tracker.createRequest({ userId: "u" });
    expect(tracker.degraded).toBe(true);
    // Known from the readable store (WAL readers are not blocked by the writer's lock)...
    await expect(tracker.startRequest(done)).rejects.toThrowError(InvalidTransitionError);
    // ...and from the outbox's own record of what it holds.
    await expect(tracker.completeRequest(fresh)).rejects.toThrowError(
      "Invalid status transition: pending -> completed",
    );
    await expect(tracker.createRequest({ userId: "u", priority: 7 })).rejects.toThrowError(
      ValidationError,
    );
    unlockStore();
    expect(await tracker.replayOutbox()).toBe(true);
    expect((await tracker.getRequest(fresh.id))?.status).toBe("pending");
    expect((await tracker.getRequest(done.id))?.status).toBe("completed");
    await tracker.close();
  });

  it("survives a restart: the outbox file is replayed by the next tracker, and a replay repeated after a crash applies nothing twice", async () => {
    const first = await open();
    lockStore();
    const req = await first.createRequest({ userId: "u" });
    await first.startRequest(req);
    await first.logEvent(req, { type: "note", message: "once" });
    await first.recordCost(req, { service: "openai", amountUsd: 0.25 });
    await first.close(); // still locked: the ops stay in the outbox file
    const outbox = `${path}.outbox.ndjson`;
    expect(readFileSync(outbox, "utf8").trim().split("\n")).toHaveLength(4);
    copyFileSync(outbox, dir.file("outbox-copy"));
    unlockStore();

    const second = await open();
    expect(await second.replayOutbox()).toBe(true);
    await second.close();

    // A crash between commit and truncation would leave the same ops in the file: put them back.
    copyFileSync(dir.file("outbox-copy"), outbox);
    const third = await open();
    expect(third.degraded).toBe(true);
    expect(await third.replayOutbox()).toBe(true);
    const got = await third.getRequest(req.id);
    expect(got).toMatchObject({ status: "running", costUsd: 0.25 });
    expect(got?.costs).toHaveLength(1);
    expect((await third.getEvents(req)).map((e) => e.type)).toEqual([
      "request_created",
      "status_changed",
      "note",
    ]);
    await third.close();
  });

  it("cuts off a line half-written by a crash, so the next op is not glued to it", async () => {
    const outbox = `${path}.outbox.ndjson`;
    writeFileSync(outbox, '{"type":"event","opId":"half-writ');
    const tracker = await open();
    lockStore();
    const req = await tracker.createRequest({ userId: "u" });
    expect(readFileSync(outbox, "utf8").split("\n")[0]).toContain(req.id);
    unlockStore();
    expect(await tracker.replayOutbox()).toBe(true);
    expect((await tracker.getRequest(req))?.status).toBe("pending");
    await tracker.close();
  });

  it('with onStoreError: "throw", rejects with StoreUnavailableError and keeps no outbox', async () => {
    const tracker = await createTracker({
      storage: path,
      busyTimeoutMs: 50,
      onStoreError: "throw",
      logger: captureLogger().logger,
    });
    lockStore();
    const attempt = tracker.createRequest({ userId: "u" });
    await expect(attempt).rejects.toThrowError(StoreUnavailableError);
    await expect(attempt).rejects.toMatchObject({ code: "RT_ERR_STORE_UNAVAILABLE" });
    expect(tracker.degraded).toBe(false);
    unlockStore();
    expect((await tracker.listRequests()).total).toBe(0);
    await tracker.close();
    expect(
      existsSync(`${path}.outbox.ndjson`) ? readFileSync(`${path}.outbox.ndjson`, "utf8") : "",
    ).toBe("");
  });
});
