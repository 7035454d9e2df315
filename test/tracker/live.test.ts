import { describe, expect, it, vi } from "vitest";
import { createTracker, type LiveEvent, type RemoteGap, SqliteStore } from "../../src/index.js";
import { captureLogger, fakeClock, LEVEL, tempDir } from "../support/helpers.js";

/** A SQLite store that, like a PostgreSQL one, can report a gap in what it heard. */
class GappyStore extends SqliteStore {
  announce: ((gap: RemoteGap) => void) | null = null;
  claims = 0;

  override apply(...args: Parameters<SqliteStore["apply"]>): ReturnType<SqliteStore["apply"]> {
    if (args[0].some((op) => op.type === "claim")) this.claims++;
    return super.apply(...args);
  }

  onRemoteGap(listener: (gap: RemoteGap) => void): () => void {
    this.announce = listener;
    return () => {
      this.announce = null;
    };
  }
}

describe("live changes", () => {
  it("publishes every committed change with the request's tenant, kind and status", async () => {
    const time = fakeClock();
    const tracker = await createTracker({
      storage: ":memory:",
      clock: time.clock,
      logger: captureLogger().logger,
      watchdogIntervalMs: 0,
    });
    const seen: LiveEvent[] = [];
    const unsubscribe = tracker.subscribe((event) => seen.push(event));
    const req = await tracker.createRequest({
      userId: "u",
      tenantId: "t1",
      kind: "video_generation",
    });
    await tracker.claimNext({ workerId: "w1" });
    await tracker.trackStage(req, "render", () => 1);
    await tracker.logEvent(req, { type: "api_call", message: "Calling Veo", severity: "warning" });
    await tracker.recordCost(req, { service: "veo", amountUsd: 0.5 });
    await tracker.completeRequest(req);
    tracker.alert({ name: "circuit_breaker_open", message: "veo breaker opened", tenantId: "t1" });
    unsubscribe();
    await tracker.deleteRequest(req);

    expect(
      seen.map((e) => [
        e.type,
        e.type === "alert" ? e.name : e.type === "resync" ? e.reason : e.status,
      ]),
    ).toEqual([
      ["request.created", "pending"],
      ["request.updated", "running"],
      ["stage.updated", "running"],
      ["stage.updated", "running"],
      ["event.logged", "running"],
      ["request.updated", "running"],
      ["request.updated", "completed"],
      ["alert", "circuit_breaker_open"],
    ]);
    for (const event of seen.slice(0, 7)) {
      expect(event).toMatchObject({ requestId: req.id, tenantId: "t1", kind: "video_generation" });
    }
    expect(seen[3]).toMatchObject({ data: { stage: "render", status: "completed" } });
    expect(seen[4]).toMatchObject({ data: { type: "api_call", severity: "warning" } });
    expect(seen[6]).toMatchObject({ data: { from: "running", to: "completed" } });
    await tracker.close();
  });

  it("a subscriber that throws does not fail the write", async () => {
    const { logger, lines } = captureLogger();
    const tracker = await createTracker({ storage: ":memory:", logger, watchdogIntervalMs: 0 });
    tracker.subscribe(() => {
      throw new Error("buggy subscriber");
    });
    const req = await tracker.createRequest({ userId: "u" });
    expect((await tracker.getRequest(req))?.status).toBe("pending");
    expect(lines.some((l) => l.msg === "change subscriber threw")).toBe(true);
    await tracker.close();
  });

  it("tells subscribers to resync when the store missed other servers' changes", async () => {
    const { logger, lines } = captureLogger();
    const store = new GappyStore(":memory:");
    const tracker = await createTracker({ storage: store, logger, watchdogIntervalMs: 0 });
    const seen: LiveEvent[] = [];
    tracker.subscribe((event) => seen.push(event));

    const since = Date.UTC(2026, 0, 15, 12, 0, 0);
    store.announce?.({ since, until: since + 4_000 });

    expect(seen).toEqual([{ type: "resync", reason: "missed_changes", since, at: since + 4_000 }]);
    const warning = lines.find((l) => l.level === LEVEL.warn && /resync/.test(l.msg));
    expect(warning).toMatchObject({
      since: "2026-01-15T12:00:00.000Z",
      until: "2026-01-15T12:00:04.000Z",
    });
    await tracker.close();
    expect(store.announce).toBeNull();
  });

  it("wakes an idle worker after a gap, for work another server created meanwhile", async () => {
    const dir = tempDir();
    const file = dir.file("shared.db");
    const store = new GappyStore(file);
    const here = await createTracker({
      storage: store,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    const elsewhere = await createTracker({
      storage: file,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    const handled: string[] = [];
    const worker = here.work({ workerId: "idle", pollMs: 600_000 }, (request) => {
      handled.push(request.id);
      return "done";
    });
    try {
      // The worker finds the queue empty and waits for its 10-minute poll.
      await vi.waitFor(() => expect(store.claims).toBe(1));
      const req = await elsewhere.createRequest({ userId: "u" });
      store.announce?.({ since: Date.now() - 1_000, until: Date.now() });
      await vi.waitFor(() => expect(handled).toEqual([req.id]), { timeout: 5_000 });
    } finally {
      await worker.stop();
      await elsewhere.close();
      await here.close();
      dir.cleanup();
    }
  });
});
