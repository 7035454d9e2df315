import { afterEach, beforeEach, expect, it } from "vitest";
import { createTracker, type IngestOp, type Tracker } from "../../src/index.js";
import { fakeClock, silentLogger } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

/**
 * Issue 13: "Last 24 hours" is the last 24 hours. At 12:00 a whole-hour window left out
 * 12:00-13:00 yesterday (287 of these 300 requests); at 12:20:30.5 the window's edges fall
 * inside an hour and a minute, so they come from minute rollups and rows. Every figure must
 * count exactly the requests created in [now - 24 h, now].
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOON = Date.UTC(2026, 0, 15, 12, 0, 0);

interface Planned {
  createdAt: number;
  tenantId: string;
  kind: string;
  durationMs: number;
}

// One request every 4.8 minutes from 12:01 yesterday (13 of them before 13:00 yesterday),
// and two just too old to count.
const PLANNED: Planned[] = [
  ...Array.from({ length: 300 }, (_, i) => NOON - 24 * HOUR + MINUTE + i * 4.8 * MINUTE),
  NOON - 24 * HOUR - 1,
  NOON - 25 * HOUR,
].map((createdAt, i) => ({
  createdAt,
  tenantId: i % 2 === 0 ? "t1" : "t2",
  kind: i % 3 === 0 ? "video" : "chat",
  durationMs: 1_000 + i,
}));

/** Each request created, started 500 ms later, one "render" stage, a cost, completed. */
function lifecycles(): IngestOp[] {
  let op = 0;
  const opId = () => `op-${++op}`;
  return PLANNED.flatMap((p, i) => {
    const id = `req_${String(i).padStart(4, "0")}`;
    const started = p.createdAt + 500;
    const done = started + p.durationMs;
    return [
      {
        opId: opId(),
        type: "create",
        at: p.createdAt,
        request: { id, userId: "u", tenantId: p.tenantId, kind: p.kind },
      },
      { opId: opId(), type: "transition", at: started, requestId: id, to: "running" },
      { opId: opId(), type: "stage", at: started, requestId: id, stage: "render", action: "start" },
      { opId: opId(), type: "stage", at: done, requestId: id, stage: "render", action: "complete" },
      { opId: opId(), type: "cost", at: done, requestId: id, cost: { service: "x", amountUsd: 1 } },
      { opId: opId(), type: "transition", at: done, requestId: id, to: "completed" },
    ] satisfies IngestOp[];
  });
}

describeEachStorage("exact rolling windows (issue 13)", (storage) => {
  let tracker: Tracker;
  let time: ReturnType<typeof fakeClock>;
  beforeEach(async () => {
    time = fakeClock(NOON + HOUR);
    tracker = await createTracker({
      ...(await storage.fresh()),
      clock: time.clock,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    const ops = lifecycles();
    for (let at = 0; at < ops.length; at += 1000) {
      const results = await tracker.ingest(ops.slice(at, at + 1000));
      expect(results.filter((r) => !r.ok)).toEqual([]);
    }
  });
  afterEach(() => tracker.close());

  const inWindow = (now: number, hours: number, where: (p: Planned) => boolean = () => true) =>
    PLANNED.filter((p) => p.createdAt >= now - hours * HOUR && p.createdAt <= now && where(p));

  for (const [label, now] of [
    ["at 12:00", NOON],
    ["at 12:20:30.5 (edges from minutes and rows)", NOON + 20 * MINUTE + 30_500],
  ] as const) {
    it(`${label}, a 24 h overview counts every request of the last 24 hours`, async () => {
      time.set(now);
      const all = await tracker.stats.overview({ window: "24h" });
      expect(all.total).toBe(inWindow(now, 24).length);
      if (now === NOON) expect(all.total).toBe(300); // whole hours found 287
      expect(all.countsByStatus.completed).toBe(all.total);
      expect(all.costUsd).toBe(all.total);
      expect([all.from.getTime(), all.to.getTime()]).toEqual([now - 24 * HOUR, now]);
      const t1 = await tracker.stats.overview({ window: "24h", tenantId: "t1" });
      expect(t1.total).toBe(inWindow(now, 24, (p) => p.tenantId === "t1").length);
      const hour = await tracker.stats.overview({ window: "1h" });
      expect(hour.total).toBe(inWindow(now, 1).length);
    });

    it(`${label}, the hourly series adds up to the window, cut at its start`, async () => {
      time.set(now);
      for (const tenantId of [undefined, "t2"]) {
        const series = await tracker.stats.timeseries({ hours: 24, ...(tenantId && { tenantId }) });
        const expected = inWindow(
          now,
          24,
          (p) => tenantId === undefined || p.tenantId === tenantId,
        );
        expect(series.reduce((sum, p) => sum + p.total, 0)).toBe(expected.length);
        expect(series).toHaveLength(25);
        expect(series[0]?.start.getTime()).toBe(now - 24 * HOUR);
        expect(series[1]?.start.getTime()).toBe(Math.floor(now / HOUR) * HOUR - 23 * HOUR);
        // Each point holds exactly the requests of its piece of the window.
        series.forEach((point, i) => {
          const end = series[i + 1]?.start.getTime() ?? now + 1;
          const mine = expected.filter(
            (p) => p.createdAt >= point.start.getTime() && p.createdAt < end,
          );
          expect(point.total).toBe(mine.length);
        });
      }
      const minutes = await tracker.stats.timeseries({ hours: 1, bucket: "minute" });
      expect(minutes).toHaveLength(61);
      expect(minutes.reduce((sum, p) => sum + p.total, 0)).toBe(inWindow(now, 1).length);
    });

    it(`${label}, the stage breakdown counts the runs of the window's requests`, async () => {
      time.set(now);
      const runs = async (input: { kind?: string; tenantId?: string }) =>
        (await tracker.stats.stages({ window: "24h", ...input }))[0]?.count ?? 0;
      expect(await runs({})).toBe(inWindow(now, 24).length);
      expect(await runs({ kind: "video" })).toBe(
        inWindow(now, 24, (p) => p.kind === "video").length,
      );
      expect(await runs({ tenantId: "t1" })).toBe(
        inWindow(now, 24, (p) => p.tenantId === "t1").length,
      );
      expect(await runs({ tenantId: "t1", kind: "chat" })).toBe(
        inWindow(now, 24, (p) => p.tenantId === "t1" && p.kind === "chat").length,
      );
    });
  }

  // A window ending now reads its last part-minute from the minute's rollup bucket when no
  // request lies after now (range-parts.ts, bucketEnd); one created 10 s later in the same
  // minute (a client clock ahead, or a window in the past) must still be left out.
  it("leaves out a request created after the window's end in the window's last minute", async () => {
    const later = PLANNED[151] as Planned;
    const now = later.createdAt - 10_000;
    expect(Math.floor(now / MINUTE)).toBe(Math.floor(later.createdAt / MINUTE));
    time.set(now);
    for (const window of ["1h", "24h"] as const) {
      const hours = window === "1h" ? 1 : 24;
      const all = await tracker.stats.overview({ window });
      expect(all.total).toBe(inWindow(now, hours).length);
      const own = await tracker.stats.overview({ window, tenantId: later.tenantId });
      expect(own.total).toBe(inWindow(now, hours, (p) => p.tenantId === later.tenantId).length);
    }
    const minutes = await tracker.stats.timeseries({ hours: 1, bucket: "minute" });
    expect(minutes.reduce((sum, p) => sum + p.total, 0)).toBe(inWindow(now, 1).length);
    const stages = await tracker.stats.stages({ window: "24h", kind: later.kind });
    expect(stages[0]?.count).toBe(inWindow(now, 24, (p) => p.kind === later.kind).length);
  });
});
