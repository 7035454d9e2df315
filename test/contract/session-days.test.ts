import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import {
  expectSessionDaysMatchRows,
  postgresRollupDb,
  type RollupDb,
  sqliteRollupDb,
} from "../analytics/rollup-check.js";
import { fakeClock, silentLogger } from "../support/helpers.js";
import { describePostgres, freshSchema } from "../support/postgres.js";

/**
 * rollup_session_days (src/store/session-days.ts; SQLite migration 26, PostgreSQL 25): the
 * cost report's "other sessions" come from per-day sums kept by triggers. On both stores,
 * through creates, costs, a reprice and a hard delete, the table equals a recount from the
 * requests, and the report's sessions (top and other) equal a recount from the rows.
 */
const DAY = 86_400_000;
const JAN_1 = Date.UTC(2026, 0, 1);
const tokens = (model: string, input: number) => ({ model, inputTokens: input, outputTokens: 0 });

interface Opened {
  tracker: Tracker;
  db: RollupDb;
  time: ReturnType<typeof fakeClock>;
  close(): Promise<void>;
}

/** What the report's sessions must be, counted from the requests of [from, to). */
async function recount(tracker: Tracker, from: number, to: number, tenantId?: string) {
  const sessions = new Map<string, { requests: number; costMicros: number }>();
  for (let cursor: string | undefined; ;) {
    const page = await tracker.listRequests({
      from: new Date(from),
      to: new Date(to),
      includeDeleted: true,
      limit: 500,
      ...(tenantId !== undefined ? { tenantId } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
    });
    for (const r of page.items) {
      if (r.sessionId === null) continue;
      const s = sessions.get(r.sessionId) ?? { requests: 0, costMicros: 0 };
      s.requests++;
      s.costMicros += Math.round(r.costUsd * 1e6);
      sessions.set(r.sessionId, s);
    }
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  const ranked = [...sessions]
    .map(([sessionId, s]) => ({ sessionId, ...s }))
    .sort((a, b) => b.costMicros - a.costMicros || (a.sessionId < b.sessionId ? -1 : 1));
  return ranked;
}

async function expectReportMatchesRows(
  tracker: Tracker,
  from: number,
  to: number,
  tenantId?: string,
): Promise<void> {
  const report = await tracker.costs.report({ from, to, ...(tenantId ? { tenantId } : {}) });
  const ranked = await recount(tracker, from, to, tenantId);
  // TOP_SESSIONS is 100: every test here has fewer, so all are listed and none are "other".
  const top = report.bySession.top.map((s) => [s.sessionId, s.requests, s.costUsd]);
  expect(top).toEqual(ranked.map((s) => [s.sessionId, s.requests, s.costMicros / 1e6]));
  expect(report.bySession.other).toEqual({ sessions: 0, requests: 0, costUsd: 0 });
}

/** Over 100 sessions in one period: the report's "other" equals the recount's rest. */
async function expectOtherMatchesRows(
  tracker: Tracker,
  from: number,
  to: number,
  tenantId?: string,
) {
  const report = await tracker.costs.report({ from, to, ...(tenantId ? { tenantId } : {}) });
  const ranked = await recount(tracker, from, to, tenantId);
  const rest = ranked.slice(100);
  expect(report.bySession.top.map((s) => s.sessionId)).toEqual(
    ranked.slice(0, 100).map((s) => s.sessionId),
  );
  expect(report.bySession.other.sessions).toBe(rest.length);
  expect(report.bySession.other.requests).toBe(rest.reduce((n, s) => n + s.requests, 0));
  expect(Math.round(report.bySession.other.costUsd * 1e6)).toBe(
    rest.reduce((n, s) => n + s.costMicros, 0),
  );
}

function describeSessionDays(open: () => Promise<Opened>) {
  let opened: Opened | undefined;
  afterEach(async () => {
    await opened?.close();
    opened = undefined;
  });

  it("equals a recount from the rows through creates, costs, a reprice and a hard delete", async () => {
    opened = await open();
    const { tracker, db, time } = opened;
    await tracker.prices.set({
      service: "openai",
      model: "gpt-4o",
      inputUsdPerMillion: 2,
      effectiveFrom: JAN_1,
    });
    // 140 sessions over 6 days and 3 tenants (some without one), some requests without a session.
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      time.set(JAN_1 + (i % 6) * DAY + i * 1000);
      const tenantId = i % 7 === 0 ? null : `t${i % 3}`;
      const sessionId = i % 11 === 0 ? null : `s${i % 140}`;
      const { id } = await tracker.createRequest({
        userId: `u${i % 9}`,
        ...(tenantId !== null ? { tenantId } : {}),
        ...(sessionId !== null ? { sessionId } : {}),
      });
      ids.push(id);
      if (i % 4 !== 0) {
        await tracker.recordCost(id, {
          service: "openai",
          usage: tokens("gpt-4o", 1000 * (1 + (i % 13))),
        });
      }
      if (i % 5 === 0)
        await tracker.recordCost(id, { service: "render", amountUsd: 0.01 * (i % 17) });
    }
    const end = JAN_1 + 7 * DAY;
    await expectSessionDaysMatchRows(db);
    await expectOtherMatchesRows(tracker, JAN_1, end);
    await expectOtherMatchesRows(tracker, JAN_1 + DAY, JAN_1 + 4 * DAY);
    await expectReportMatchesRows(tracker, JAN_1, end, "t1");

    // A reprice rewrites the usage-priced costs: the sums follow.
    await tracker.prices.set({
      service: "openai",
      model: "gpt-4o",
      inputUsdPerMillion: 5,
      effectiveFrom: JAN_1,
    });
    const repriced = await tracker.prices.reprice({ from: JAN_1, to: end });
    expect(repriced.changed).toBeGreaterThan(0);
    await expectSessionDaysMatchRows(db);
    await expectOtherMatchesRows(tracker, JAN_1, end);
    await expectReportMatchesRows(tracker, JAN_1, end, "t2");

    // A soft delete keeps the figures; a hard delete of the first days takes them out.
    await tracker.deleteRequest(ids[1] as string);
    await expectSessionDaysMatchRows(db);
    time.set(JAN_1 + 40 * DAY);
    const removed = await tracker.cleanup({ olderThan: JAN_1 + 2 * DAY });
    expect(removed).toBeTruthy();
    await expectSessionDaysMatchRows(db);
    await expectOtherMatchesRows(tracker, JAN_1, end);
    await expectReportMatchesRows(tracker, JAN_1, end, "t0");
    // Emptied days count no sessions.
    const report = await tracker.costs.report({ from: JAN_1, to: JAN_1 + 2 * DAY });
    expect(report.bySession).toEqual({ top: [], other: { sessions: 0, requests: 0, costUsd: 0 } });
  });
}

describe("cost report session days [sqlite]", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  describeSessionDays(async () => {
    const dir = mkdtempSync(join(tmpdir(), "reqtrack-session-days-"));
    dirs.push(dir);
    const store = new SqliteStore(join(dir, "t.db"));
    const time = fakeClock(JAN_1);
    const tracker = await createTracker({
      storage: store,
      clock: time.clock,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
      retentionDays: null,
    });
    return { tracker, db: sqliteRollupDb(store.db), time, close: () => tracker.close() };
  });
});

describePostgres(
  "cost report session days [postgres]",
  (url) => {
    describeSessionDays(async () => {
      const fresh = await freshSchema(url);
      const time = fakeClock(JAN_1);
      const tracker = await createTracker({
        storage: url,
        postgres: { schema: fresh.schema },
        clock: time.clock,
        logger: silentLogger(),
        watchdogIntervalMs: 0,
        retentionDays: null,
      });
      const db = await postgresRollupDb(url, fresh.schema);
      return {
        tracker,
        db,
        time,
        close: async () => {
          await tracker.close();
          await db.end();
          await fresh.drop();
        },
      };
    });
  },
  { timeout: 120_000 },
);
