import { execFile } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { captureLogger, tempDir } from "../support/helpers.js";

const run = promisify(execFile);
const crasher = fileURLToPath(new URL("../fixtures/crash-in-commit.ts", import.meta.url));

/** A folded call (one "finished" op for create, start and end) through outages and crashes. */
describe("folded calls in an outage", () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let blocker: Database.Database | undefined;

  beforeEach(() => {
    dir = tempDir();
    path = dir.file("requests.db");
  });
  afterEach(() => {
    if (blocker?.open) blocker.close();
    dir.cleanup();
  });

  const open = () =>
    createTracker({
      storage: path,
      busyTimeoutMs: 50,
      replayIntervalMs: 3_600_000,
      watchdogIntervalMs: 0,
      logger: captureLogger("warn").logger,
    });
  const call = (tracker: Awaited<ReturnType<typeof open>>, id: string) =>
    Promise.all([
      tracker.createRequest({ id, userId: "u", kind: "ping" }),
      tracker.startRequest(id),
      tracker.completeRequest(id, { statusCode: 200 }),
    ]);

  it("goes to the outbox as one op and is replayed exactly once, even when the replay is repeated after a crash", async () => {
    const first = await open();
    blocker = new Database(path);
    blocker.exec("BEGIN EXCLUSIVE");
    await call(first, "req_folded");
    expect(first.degraded).toBe(true);
    const outbox = `${path}.outbox.ndjson`;
    const lines = readFileSync(outbox, "utf8").trim().split("\n");
    expect(lines.map((line) => (JSON.parse(line) as { type: string }).type)).toEqual(["finished"]);
    await first.close();
    copyFileSync(outbox, dir.file("outbox-copy"));
    blocker.exec("COMMIT");

    const second = await open();
    expect(await second.replayOutbox()).toBe(true);
    await second.close();
    // A crash between the replay's commit and the outbox's truncation leaves the op there.
    copyFileSync(dir.file("outbox-copy"), outbox);

    const third = await open();
    expect(third.degraded).toBe(true);
    expect(await third.replayOutbox()).toBe(true);
    expect(await third.getRequest("req_folded")).toMatchObject({
      status: "completed",
      attempts: 1,
      result: { statusCode: 200 },
    });
    expect((await third.getEvents("req_folded")).map((e) => e.type)).toEqual([
      "request_created",
      "status_changed",
      "status_changed",
    ]);
    expect(await third.stats.overview({ window: "400d" })).toMatchObject({ total: 1 });
    await third.close();
  });

  it("leaves nothing behind when the process dies between the batch and its commit", async () => {
    const child = run(process.execPath, ["--import", "tsx", crasher, path]);
    await expect(child).rejects.toMatchObject({ signal: "SIGKILL" });

    const tracker = await open();
    expect(tracker.degraded).toBe(false);
    expect(
      existsSync(`${path}.outbox.ndjson`) ? readFileSync(`${path}.outbox.ndjson`, "utf8") : "",
    ).toBe("");
    expect(await tracker.getRequest("req_acknowledged")).toMatchObject({ status: "pending" });
    expect(await tracker.getRequest("req_crashed")).toBeNull();
    expect(await tracker.getEvents("req_crashed")).toEqual([]);
    expect(await tracker.stats.overview({ window: "400d" })).toMatchObject({ total: 1 });
    // The call was never acknowledged; made again, it is stored once, whole.
    await call(tracker, "req_crashed");
    expect((await tracker.getEvents("req_crashed")).map((e) => e.type)).toHaveLength(3);
    await tracker.close();
  });
});
