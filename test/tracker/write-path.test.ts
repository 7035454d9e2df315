import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AnyOp, OpResult } from "../../src/core/ops.js";
import { createTracker, MigrationError, SqliteStore, type Store } from "../../src/index.js";
import { SQLITE_MIGRATIONS } from "../../src/store/migrations/sqlite.js";
import { captureLogger, tempDir } from "../support/helpers.js";

/** A real SQLite store that remembers the size of every batch it commits. */
class RecordingStore extends SqliteStore {
  readonly batches: number[] = [];

  override apply(ops: readonly AnyOp[], options?: { dedupe?: boolean }): Promise<OpResult[]> {
    this.batches.push(ops.length);
    return super.apply(ops, options);
  }
}

function recordingStore(path: string): { store: Store; batches: number[] } {
  const store = new RecordingStore(path);
  return { store, batches: store.batches };
}

describe("write path", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  it("group-commits concurrent calls in one transaction; each resolves after its commit", async () => {
    const path = dir.file("group.db");
    const { store, batches } = recordingStore(path);
    const tracker = await createTracker({ storage: store, logger: captureLogger().logger });
    const observer = new Database(path, { readonly: true });
    const count = observer.prepare("SELECT count(*) FROM requests").pluck();

    const visibleAtResolve: number[] = [];
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        tracker
          .createRequest({ userId: `u${i}` })
          .then(() => visibleAtResolve.push(count.get() as number)),
      ),
    );
    expect(batches).toEqual([100]);
    // Another connection already sees all 100 rows when the first promise resolves.
    expect(Math.min(...visibleAtResolve)).toBe(100);
    observer.close();
    await tracker.close();
  });

  it("reads its own writes, even ones not yet awaited", async () => {
    const tracker = await createTracker({ storage: ":memory:", logger: captureLogger().logger });
    const req = await tracker.createRequest({ userId: "u" });
    const pending = [
      tracker.startRequest(req),
      tracker.logEvent(req, { type: "note" }),
      tracker.increment(req, "rounds"),
    ];
    const got = await tracker.getRequest(req);
    expect(got).toMatchObject({ status: "running", counters: { rounds: 1 } });
    expect((await tracker.getEvents(req)).map((e) => e.type)).toContain("note");
    await Promise.all(pending);
    await tracker.close();
  });

  it("keeps ops of one caller in order inside a batch", async () => {
    const { store, batches } = recordingStore(":memory:");
    const tracker = await createTracker({ storage: store, logger: captureLogger().logger });
    const req = await tracker.createRequest({ userId: "u" });
    const results = await Promise.allSettled([
      tracker.startRequest(req),
      tracker.startStage(req, "a"),
      tracker.completeStage(req, "a"),
      tracker.completeRequest(req),
      tracker.startRequest(req),
    ]);
    expect(batches.at(-1)).toBe(5);
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "rejected",
    ]);
    expect((await tracker.getRequest(req))?.status).toBe("completed");
    await tracker.close();
  });

  it("reopening the file keeps everything", async () => {
    const path = dir.file("reopen.db");
    const first = await createTracker({ storage: path, logger: captureLogger().logger });
    const req = await first.createRequest({
      userId: "u",
      tenantId: "t",
      tags: ["x"],
      input: { prompt: "p" },
    });
    await first.startRequest(req, "w");
    await first.trackStage(req, "s1", () => 1);
    await first.recordCost(req, { service: "openai", amountUsd: 1.5 });
    await first.completeRequest(req, { ok: true });
    const snapshot = await first.getRequest(req);
    const events = await first.getEvents(req);
    await first.close();
    await expect(first.getRequest(req)).rejects.toMatchObject({ code: "RT_ERR_CLOSED" });

    const second = await createTracker({ storage: path, logger: captureLogger().logger });
    expect(await second.getRequest(req)).toEqual(snapshot);
    expect(await second.getEvents(req)).toEqual(events);
    expect((await second.listRequests({ tag: "x" })).items.map((r) => r.id)).toEqual([req.id]);
    await second.close();
  });

  it("migrates once and refuses a database written by a newer reqtrack", async () => {
    const path = dir.file("migrations.db");
    new SqliteStore(path).close();
    const db = new Database(path);
    expect(
      db.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all(),
    ).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    db.prepare("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)").run();
    db.close();
    expect(() => new SqliteStore(path)).toThrowError(MigrationError);
    expect(() => new SqliteStore(path)).toThrowError(/schema version 999/);
  });
});
