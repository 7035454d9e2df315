import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTracker, StoreUnavailableError, type Tracker } from "../../src/index.js";
import { type SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { asidePath } from "../../src/tracker/aside-file.js";
import { expectRollupsMatchRows, sqliteRollupDb } from "../analytics/rollup-check.js";
import { captureLogger, LEVEL, tempDir } from "../support/helpers.js";
import { expectWrittenOnce, lifecycleLoad } from "./support/lifecycle-load.js";
import { report, sized } from "./support/size.js";
import { mountSmallDisk, type SmallDisk } from "./support/tmpfs.js";

/** How long each outage lasts under load: the 10 s in the long run. */
const OUTAGE_MS = sized(600, 10_000);

/** The ways a SQLite store stops taking writes while the process goes on. */
interface Outage {
  name: string;
  begin(tracker: Tracker, path: string): void;
  end(): void;
}

const smallDisk = mountSmallDisk(16 * 1024);
const diskReason = "reason" in smallDisk ? smallDisk.reason : "";
if ("reason" in smallDisk) console.warn(`Disk-full outages use max_page_count: ${diskReason}`);
else (smallDisk as SmallDisk).unmount();

const db = (tracker: Tracker) => (tracker.store as SqliteStore).db;

const OUTAGES: Outage[] = [
  (() => {
    let blocker: Database.Database | null = null;
    return {
      name: "locked by another connection (BEGIN EXCLUSIVE)",
      begin: (_tracker, path) => {
        blocker = new Database(path);
        blocker.exec("BEGIN EXCLUSIVE");
      },
      end: () => {
        blocker?.exec("COMMIT");
        blocker?.close();
      },
    };
  })(),
  (() => {
    let target: Database.Database | null = null;
    // A volume remounted read-only cannot be made so under open writers without the kernel
    // doing it (errors=remount-ro): query_only gives the driver the same SQLITE_READONLY.
    return {
      name: "read-only (SQLITE_READONLY)",
      begin: (tracker) => {
        target = db(tracker);
        target.pragma("query_only = ON");
      },
      end: () => target?.pragma("query_only = OFF"),
    };
  })(),
  (() => {
    let target: Database.Database | null = null;
    return {
      name: "disk full (SQLITE_FULL: max_page_count at the file's size)",
      begin: (tracker) => {
        target = db(tracker);
        target.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        const pages = target.pragma("page_count", { simple: true }) as number;
        target.pragma(`max_page_count = ${pages}`);
      },
      end: () => target?.pragma("max_page_count = 1073741823"),
    };
  })(),
];

describe("store outages under load (degrade mode)", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir("reqtrack-outage-");
  });
  afterEach(() => dir.cleanup());

  const open = (path: string, logger = captureLogger("error").logger) =>
    createTracker({
      storage: path,
      // The outbox lives on another volume than the store: a full or read-only store volume
      // must not take the outbox down with it.
      outboxPath: dir.file("outbox/outbox.ndjson"),
      busyTimeoutMs: 50,
      replayIntervalMs: 50,
      watchdogIntervalMs: 0,
      logger,
    });

  /**
   * Runs the load, puts the store through `outage` for OUTAGE_MS, and checks the aftermath.
   * `explain` says, when the outbox never drains, what the store volume looked like then.
   */
  async function survive(
    outage: Outage,
    path: string,
    tracker: Tracker,
    explain: () => string = () => "",
  ) {
    const load = lifecycleLoad(tracker);
    await vi.waitFor(() => expect(load.ids.length).toBeGreaterThan(20), { timeout: 10_000 });
    outage.begin(tracker, path);
    let degradedSeen = false;
    const watch = setInterval(() => (degradedSeen ||= tracker.degraded), 5);
    const before = load.ids.length;
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    const during = load.ids.length - before;
    outage.end();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await load.stop();
    clearInterval(watch);
    await vi.waitFor(
      async () =>
        expect(await tracker.replayOutbox(), `outbox still not replayed${explain()}`).toBe(true),
      { timeout: 20_000, interval: 50 },
    );
    return { load, degradedSeen, during };
  }

  it.each(OUTAGES.map((o) => [o.name, o] as const))(
    "%s: callers never see an exception, every id is returned, then everything is written once",
    async (name, outage) => {
      const path = dir.file("store.db");
      const tracker = await open(path);
      try {
        const { load, degradedSeen, during } = await survive(outage, path, tracker);
        report(`outage ${name}`, {
          ms: OUTAGE_MS,
          lifecycles: load.ids.length,
          createdDuring: during,
          failures: load.failures.length,
        });
        expect(load.failures).toEqual([]);
        expect(degradedSeen).toBe(true);
        expect(during).toBeGreaterThan(0);
        await expectWrittenOnce(tracker, load.ids);
        await expectRollupsMatchRows(sqliteRollupDb(db(tracker)));
      } finally {
        await tracker.close();
      }
    },
    sized(30_000, 120_000),
  );

  // The disk must hold the store's data twice over (WAL mode: frames in the WAL, then pages
  // in the database file at checkpoint), and the WAL grows past its 4 MiB auto-checkpoint
  // while a checkpoint cannot finish. On 2 MiB the WAL alone filled the disk before the
  // outage began, the filler got 0 bytes, and freeing it freed nothing. On 8 MiB the store
  // took 1 to 4 MiB before the outage on a quiet machine; under CI's load more rows went in
  // first, the replay's WAL frames did not fit beside them, and the outbox never drained.
  // 32 MiB (256 MiB for the long run's 10 s outage) leaves the replay room, and the filler
  // still takes most of the disk.
  it("disk full on a real size-limited filesystem (tmpfs): same guarantees", async (context) => {
    if ("reason" in smallDisk) {
      return context.skip(`needs a tmpfs mount (root, no sandbox): ${diskReason}`);
    }
    const disk = mountSmallDisk(sized(32_768, 262_144)) as SmallDisk;
    const path = `${disk.dir}/store.db`;
    const { logger, lines } = captureLogger("warn");
    const tracker = await open(path, logger);
    const explain = () => {
      const size = (name: string) => {
        try {
          return statSync(`${disk.dir}/${name}`).size;
        } catch {
          return 0;
        }
      };
      const last = lines.at(-1) as { msg?: string; err?: { message?: string } } | undefined;
      return (
        `: store.db ${size("store.db")} B, store.db-wal ${size("store.db-wal")} B, ` +
        `filler ${size("filler")} B; last warning: ${last?.msg ?? "none"} (${last?.err?.message ?? ""})`
      );
    };
    const filler = `${disk.dir}/filler`;
    let fillerBytes = 0;
    try {
      const outage: Outage = {
        name: "tmpfs full",
        begin: () => {
          // Fill what is left, a MiB at a time, then byte by byte, until ENOSPC.
          const chunk = Buffer.alloc(1024 * 1024);
          for (const size of [chunk.length, 4096, 1]) {
            try {
              for (;;) writeFileSync(filler, chunk.subarray(0, size), { flag: "a" });
            } catch {
              // ENOSPC: the next, smaller size fills the rest.
            }
          }
        },
        end: () => {
          fillerBytes = statSync(filler).size;
          writeFileSync(filler, "");
        },
      };
      const { load, degradedSeen } = await survive(outage, path, tracker, explain);
      report("outage tmpfs full", { ms: OUTAGE_MS, lifecycles: load.ids.length, fillerBytes });
      // The outage was real ENOSPC, and its end gave space back.
      expect(fillerBytes).toBeGreaterThan(0);
      expect(load.failures).toEqual([]);
      expect(degradedSeen).toBe(true);
      await expectWrittenOnce(tracker, load.ids);
      await expectRollupsMatchRows(sqliteRollupDb(db(tracker)));
    } finally {
      await tracker.close();
      disk.unmount();
    }
  });
});

describe("the outbox itself in trouble", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir("reqtrack-outbox-");
  });
  afterEach(() => dir.cleanup());

  it("an outbox path that cannot be opened is a coded error at createTracker, naming the option", async () => {
    mkdirSync(dir.file("a-directory"));
    await expect(
      createTracker({ storage: dir.file("s.db"), outboxPath: dir.file("a-directory") }),
    ).rejects.toMatchObject({ code: "RT_ERR_VALIDATION", field: "outboxPath" });
  });

  it("an outbox that cannot be written while the store is down: callers hear it (StoreUnavailableError), nothing is acknowledged falsely", async (context) => {
    const disk = mountSmallDisk(64);
    if ("reason" in disk) return context.skip(disk.reason);
    const path = dir.file("store.db");
    const { logger, lines } = captureLogger("error");
    const tracker = await createTracker({
      storage: path,
      outboxPath: `${disk.dir}/outbox.ndjson`,
      busyTimeoutMs: 50,
      replayIntervalMs: 3_600_000,
      watchdogIntervalMs: 0,
      logger,
    });
    const blocker = new Database(path);
    try {
      blocker.exec("BEGIN EXCLUSIVE");
      // Fill the outbox's disk.
      try {
        for (;;) writeFileSync(`${disk.dir}/filler`, Buffer.alloc(4096), { flag: "a" });
      } catch {
        // ENOSPC
      }
      const attempt = tracker.createRequest({ userId: "u", initialMessage: "x".repeat(8000) });
      await expect(attempt).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(attempt).rejects.toThrow("Neither the store nor the outbox could be written");
      expect(lines.some((l) => l.level === LEVEL.error && /outbox append failed/.test(l.msg))).toBe(
        true,
      );
      blocker.exec("COMMIT");
      expect((await tracker.listRequests()).total).toBe(0);
    } finally {
      if (blocker.inTransaction) blocker.exec("ROLLBACK");
      blocker.close();
      await tracker.close();
      disk.unmount();
    }
  });

  it("a corrupt line, a line cut off mid-write and an op the store refuses are kept aside and reported, and the rest is replayed", async () => {
    const path = dir.file("store.db");
    const outbox = dir.file("outbox.ndjson");
    // A first tracker leaves two real ops in the outbox while the store is locked.
    const first = await createTracker({
      storage: path,
      outboxPath: outbox,
      busyTimeoutMs: 50,
      replayIntervalMs: 3_600_000,
      watchdogIntervalMs: 0,
      logger: captureLogger("error").logger,
    });
    const blocker = new Database(path);
    blocker.exec("BEGIN EXCLUSIVE");
    const req = await first.createRequest({ userId: "u" });
    await first.startRequest(req, "w");
    await first.close();
    blocker.exec("COMMIT");
    blocker.close();
    const [create, start] = readFileSync(outbox, "utf8").trim().split("\n") as [string, string];
    const refused = JSON.stringify({
      ...JSON.parse(start),
      opId: "op_refused",
      requestId: "req_never_created",
    });
    // Damage: a garbled line in the middle, an op for a request that does not exist, and a
    // last line cut off by a crash.
    writeFileSync(outbox, `${create}\n{"garbled\n${refused}\n${start}\n{"type":"event","op`);

    const { logger, lines } = captureLogger("warn");
    const second = await createTracker({
      storage: path,
      outboxPath: outbox,
      replayIntervalMs: 3_600_000,
      watchdogIntervalMs: 0,
      logger,
    });
    try {
      expect(await second.replayOutbox()).toBe(true);
      expect((await second.getRequest(req.id))?.status).toBe("running");
      const aside = readFileSync(asidePath(outbox), "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { reason: string; line: string });
      expect(aside.map((a) => a.reason.split(":")[0])).toEqual([
        "partial",
        "unreadable",
        "RT_ERR_NOT_FOUND",
      ]);
      expect(aside.map((a) => a.line)).toEqual(['{"type":"event","op', '{"garbled', refused]);
      const reported = lines.filter((l) => l.level === LEVEL.error && l.aside_path);
      expect(reported.map((l) => l.set_aside)).toEqual([1, 2]);
      expect(reported[0]?.aside_path).toBe(asidePath(outbox));
      expect(readFileSync(outbox, "utf8")).toBe("");
    } finally {
      await second.close();
    }
  });
});
