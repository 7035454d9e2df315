import type Database from "better-sqlite3";
import pg from "pg";
import { expect } from "vitest";
import { Sketch } from "../../src/core/sketch.js";
import type { Tracker } from "../../src/index.js";
import { apply, DAY, HOUR, NOW, type Plan } from "./model.js";

/**
 * The rollups as they should be, recomputed from the raw rows (requests, stages, costs) with
 * plain SQL and a fresh sketch per cell, and compared with the rollup tables, on either
 * driver: whatever path wrote the rows, the rollups must agree with them.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows of several tables, compared whole
export type Row = Record<string, any>;

/** A database holding reqtrack's tables, as the check reads it. */
export interface RollupDb {
  /** The rows of `sql`, integers as numbers. The SQL is the same on both drivers. */
  all(sql: string): Promise<Row[]>;
  /** A stored value as compared: SQLite's sketch blobs as hex, anything else as read. */
  normalize(value: unknown): unknown;
  /** A sketch as `normalize` shows the driver's stored form of it (null when empty). */
  sketch(sketch: Sketch): unknown;
}

export function sqliteRollupDb(db: Database.Database): RollupDb {
  return {
    all: (sql) => Promise.resolve(db.prepare(sql).all() as Row[]),
    // Blobs compared as bytes, whatever Buffer subclass SQLite handed back.
    normalize: (value) =>
      value instanceof Uint8Array ? Buffer.from(value).toString("hex") : value,
    sketch: (sketch) => sketch.toBytes()?.toString("hex") ?? null,
  };
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * A connection to one schema reading BIGINT and NUMERIC (sums) as numbers. Sketches are the
 * jsonb objects `{"<bucket key>": count}` as pg parses them. `end()` when done.
 */
export async function postgresRollupDb(
  url: string,
  schema: string,
): Promise<RollupDb & { client: pg.Client; end: () => Promise<void> }> {
  const client = new pg.Client({
    connectionString: url,
    options: `-c search_path=${schema}`,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID || oid === NUMERIC_OID
          ? Number
          : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
    },
  });
  await client.connect();
  return {
    client,
    all: async (sql) => (await client.query<Row>(sql)).rows,
    normalize: (value) => value,
    sketch: (sketch) => {
      const text = sketch.toJsonText();
      return text === null ? null : (JSON.parse(text) as unknown);
    },
    end: () => client.end(),
  };
}

// The levels as docs/analytics.md lists them: [id, grain, keeps tenant, kind, source, parts].
const REQUEST_LEVELS = [
  [1, HOUR, true, false, false, "full"],
  [2, HOUR, false, true, false, "full"],
  [3, 60_000, false, false, false, "full"],
  [4, DAY, true, true, false, "counts"],
  [5, DAY, false, false, true, "counts"],
  [7, DAY, false, false, false, "full"],
  [8, DAY, true, false, false, "full"],
] as const;

const STAGE_LEVELS = [
  [1, HOUR, true, false],
  [2, HOUR, false, true],
  [3, 60_000, false, true],
] as const;

async function expectedRequestRollups(db: RollupDb): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  const rows = await db.all(
    `SELECT created_at, coalesce(tenant_id, '') AS tenant, coalesce(kind, '') AS kind,
    coalesce(source, '') AS source, status, duration_ms, queue_ms, cost_micros FROM requests`,
  );
  const sketches = new Map<string, { latency: Sketch; queue: Sketch }>();
  for (const [level, grain, tenant, kind, source, parts] of REQUEST_LEVELS) {
    for (const r of rows) {
      const keyParts = {
        level,
        tenant: tenant ? r.tenant : "",
        bucket: Math.floor((r.created_at as number) / grain) * grain,
        kind: kind ? r.kind : "",
        source: source ? r.source : "",
      };
      const key = JSON.stringify(keyParts);
      const row = out.get(key) ?? {
        ...keyParts,
        requests: 0,
        pending: 0,
        running: 0,
        completed: 0,
        failed: 0,
        timeout: 0,
        cancelled: 0,
        duration_sum: 0,
        queue_count: 0,
        queue_sum: 0,
        cost_micros: 0,
      };
      (row.requests as number)++;
      row.cost_micros = (row.cost_micros as number) + (r.cost_micros as number);
      (row[r.status as string] as number)++;
      if (r.status === "completed") {
        row.duration_sum = (row.duration_sum as number) + (r.duration_ms as number);
      }
      if (parts === "full") {
        const s = sketches.get(key) ?? { latency: new Sketch(), queue: new Sketch() };
        sketches.set(key, s);
        if (r.status === "completed") s.latency.add(r.duration_ms as number);
        if (r.queue_ms !== null) {
          (row.queue_count as number)++;
          row.queue_sum = (row.queue_sum as number) + (r.queue_ms as number);
          s.queue.add(r.queue_ms as number);
        }
      }
      out.set(key, row);
    }
  }
  for (const [key, row] of out) {
    const s = sketches.get(key);
    row.latency = s ? db.sketch(s.latency) : null;
    row.queue = s ? db.sketch(s.queue) : null;
  }
  return out;
}

async function actualRows(db: RollupDb, table: string, keys: string[]): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  for (const row of await db.all(`SELECT * FROM ${table}`)) {
    const empty = Object.entries(row).every(([column, value]) =>
      keys.includes(column) ? true : value === 0 || value === null,
    );
    if (empty) continue; // emptied by a hard delete
    out.set(JSON.stringify(Object.fromEntries(keys.map((k) => [k, row[k]]))), row);
  }
  return out;
}

const normalized = (db: RollupDb, rows: Map<string, Row>) =>
  new Map(
    [...rows].map(([k, row]) => [
      k,
      Object.fromEntries(Object.entries(row).map(([c, v]) => [c, db.normalize(v)])),
    ]),
  );

/** Every rollup table holds exactly what the rows it summarizes add up to. */
export async function expectRollupsMatchRows(db: RollupDb): Promise<void> {
  await expectLiveCountsMatchRows(db);
  const requestKeys = ["level", "tenant", "bucket", "kind", "source"];
  expect(normalized(db, await actualRows(db, "rollup_requests", requestKeys))).toEqual(
    await expectedRequestRollups(db),
  );

  const stages = await db.all(
    `SELECT coalesce(r.tenant_id, '') AS tenant, r.created_at,
    coalesce(r.kind, '') AS kind, s.name AS stage, s.status, s.duration_ms
    FROM stages s JOIN requests r ON r.id = s.request_id
    WHERE s.status IN ('completed', 'failed')`,
  );
  const expectedStages = new Map<string, Row & { sketch: Sketch }>();
  // [id, grain, keeps tenant, keeps kind], as docs/analytics.md lists them.
  for (const [level, grain, tenant, kind] of STAGE_LEVELS) {
    for (const s of stages) {
      const keyParts = {
        level,
        tenant: tenant ? s.tenant : "",
        bucket: Math.floor((s.created_at as number) / grain) * grain,
        kind: kind ? s.kind : "",
        stage: s.stage,
      };
      const key = JSON.stringify(keyParts);
      const row = expectedStages.get(key) ?? {
        ...keyParts,
        completed: 0,
        failed: 0,
        duration_sum: 0,
        sketch: new Sketch(),
      };
      (row[s.status as string] as number)++;
      row.duration_sum = (row.duration_sum as number) + (s.duration_ms as number);
      row.sketch.add(s.duration_ms as number);
      expectedStages.set(key, row);
    }
  }
  const stageKeys = ["level", "tenant", "bucket", "kind", "stage"];
  expect(normalized(db, await actualRows(db, "rollup_stages", stageKeys))).toEqual(
    new Map(
      [...expectedStages].map(([k, { sketch, ...v }]) => [
        k,
        { ...v, durations: db.sketch(sketch) },
      ]),
    ),
  );

  const costs = await db.all(
    `SELECT level, tenant, bucket, service, count(*) AS records, sum(amount) AS cost_micros
    FROM (SELECT 4 AS level, coalesce(r.tenant_id, '') AS tenant, c.service,
            (r.created_at / ${DAY}) * ${DAY} AS bucket, c.amount_micros AS amount
          FROM costs c JOIN requests r ON r.id = c.request_id
          UNION ALL
          SELECT 6, '', c.service, (r.created_at / ${DAY}) * ${DAY}, c.amount_micros
          FROM costs c JOIN requests r ON r.id = c.request_id) AS c
    GROUP BY level, tenant, bucket, service`,
  );
  const costKeys = ["level", "tenant", "bucket", "service"];
  expect(await actualRows(db, "rollup_costs", costKeys)).toEqual(
    new Map(
      costs.map((c) => [JSON.stringify(Object.fromEntries(costKeys.map((k) => [k, c[k]]))), c]),
    ),
  );

  const sessions = await db.all(
    `SELECT (created_at / ${DAY}) * ${DAY} AS bucket, coalesce(tenant_id, '') AS tenant,
    session_id AS session, count(*) AS requests, sum(cost_micros) AS cost_micros
    FROM requests WHERE session_id IS NOT NULL GROUP BY 1, 2, 3`,
  );
  const sessionKeys = ["bucket", "tenant", "session"];
  expect(await actualRows(db, "rollup_sessions", sessionKeys)).toEqual(
    new Map(
      sessions.map((s) => [
        JSON.stringify(Object.fromEntries(sessionKeys.map((k) => [k, s[k]]))),
        s,
      ]),
    ),
  );
  await expectSessionTotalsMatchRows(db);
  await expectSessionDaysMatchRows(db);
  await expectSpendMatchesRows(db);
}

/**
 * rollup_session_days (SQLite migration 26, PostgreSQL 25): per day of creation, per tenant
 * (scope 1) and over all tenants (scope 0), the sessions with requests that day and their
 * requests and cost, exactly as recounted from the requests.
 */
export async function expectSessionDaysMatchRows(db: RollupDb): Promise<void> {
  const day = `(created_at / ${DAY}) * ${DAY}`;
  const expected = await db.all(
    `SELECT 1 AS scope, coalesce(tenant_id, '') AS tenant, ${day} AS bucket,
      count(DISTINCT session_id) AS rows, count(*) AS requests, sum(cost_micros) AS cost_micros
    FROM requests WHERE session_id IS NOT NULL GROUP BY 2, 3
    UNION ALL
    SELECT 0, '', ${day}, count(DISTINCT coalesce(tenant_id, '') || '/' || session_id),
      count(*), sum(cost_micros)
    FROM requests WHERE session_id IS NOT NULL GROUP BY 3`,
  );
  const key = (r: Row) => JSON.stringify([r.scope, r.tenant, r.bucket]);
  const figures = (rows: Row[]) =>
    new Map(
      rows
        .filter((r) => r.rows !== 0 || r.requests !== 0 || r.cost_micros !== 0)
        .map((r) => [key(r), [r.rows, r.requests, r.cost_micros]]),
    );
  expect(figures(await db.all("SELECT * FROM rollup_session_days"))).toEqual(figures(expected));
}

/** rollup_spend (migration 22): money per day of the cost's time, service and level. */
async function expectSpendMatchesRows(db: RollupDb): Promise<void> {
  const levels = [
    [0, "''", "''"],
    [1, "coalesce(r.tenant_id, '')", "''"],
    [2, "''", "coalesce(r.kind, '')"],
    [3, "coalesce(r.tenant_id, '')", "coalesce(r.kind, '')"],
  ] as const;
  const expected = await db.all(
    levels
      .map(
        ([level, tenant, kind]) => `SELECT ${level} AS level, ${tenant} AS tenant,
        ${kind} AS kind, (c.ts / ${DAY}) * ${DAY} AS bucket, c.service,
        sum(c.amount_micros) AS cost_micros
        FROM costs c JOIN requests r ON r.id = c.request_id GROUP BY 1, 2, 3, 4, 5`,
      )
      .join(" UNION ALL "),
  );
  const key = (r: Row) => JSON.stringify([r.level, r.tenant, r.kind, r.bucket, r.service]);
  const actual = (await db.all("SELECT * FROM rollup_spend")).filter((r) => r.cost_micros !== 0);
  const byKey = (rows: Row[]) =>
    new Map(rows.filter((r) => r.cost_micros !== 0).map((r) => [key(r), r.cost_micros]));
  expect(byKey(actual)).toEqual(byKey(expected));
}

/**
 * rollup_session_totals (migration 21): each session's requests and cost over its whole
 * life, per tenant (scope 1) and over all tenants (scope 0), exactly; its first and last day
 * at least cover the days it has requests on (hard deletes may leave them wider).
 */
async function expectSessionTotalsMatchRows(db: RollupDb): Promise<void> {
  const expected = await db.all(
    `SELECT 1 AS scope, coalesce(tenant_id, '') AS tenant, session_id AS session,
      count(*) AS requests, sum(cost_micros) AS cost_micros,
      min((created_at / ${DAY}) * ${DAY}) AS first, max((created_at / ${DAY}) * ${DAY}) AS last
    FROM requests WHERE session_id IS NOT NULL GROUP BY 2, 3
    UNION ALL
    SELECT 0, '', session_id, count(*), sum(cost_micros), min((created_at / ${DAY}) * ${DAY}),
      max((created_at / ${DAY}) * ${DAY})
    FROM requests WHERE session_id IS NOT NULL GROUP BY 3`,
  );
  const key = (r: Row) => JSON.stringify([r.scope, r.tenant, r.session]);
  const actual = new Map(
    (await db.all("SELECT * FROM rollup_session_totals"))
      .filter((r) => r.requests !== 0 || r.cost_micros !== 0)
      .map((r) => [key(r), r]),
  );
  const sums = (rows: Iterable<Row>) =>
    new Map([...rows].map((r) => [key(r), [r.requests, r.cost_micros]]));
  expect(sums(actual.values())).toEqual(sums(expected));
  for (const e of expected) {
    const a = actual.get(key(e)) as Row;
    expect(a.first_bucket, key(e)).toBeLessThanOrEqual(e.first as number);
    expect(a.last_bucket, key(e)).toBeGreaterThanOrEqual(e.last as number);
  }
}

/**
 * Writes `plans` through the public API, then through the queue's own write paths (claims,
 * lease expiry, run timeouts, releases, the watchdog's sweep), then hard-deletes the older
 * requests, calling `check` after each step.
 */
export async function writeThroughEveryPath(
  tracker: Tracker,
  time: { set: (ms: number) => void },
  plans: readonly Plan[],
  check: () => Promise<void>,
): Promise<void> {
  for (const [i, plan] of plans.entries()) await apply(tracker, time, plan, i);
  await check();

  time.set(NOW + HOUR);
  const claimed = await tracker.claimNext({ workerId: "w1", leaseMs: 1_000 });
  if (claimed) await tracker.startStage(claimed.id, "render");
  const short = await tracker.createRequest({ userId: "u9", tenantId: "guild-1", timeoutMs: 500 });
  await tracker.claimNext({ workerId: "w2", leaseMs: 60_000 });
  const released = await tracker.claimNext({ workerId: "w3", leaseMs: 60_000 });
  if (released) await tracker.releaseRequest(released.id, "w3");
  time.set(NOW + HOUR + 5_000);
  await tracker.sweep();
  expect(await tracker.getRequest(short.id)).toBeTruthy();
  await check();

  // Hard delete (retention/cleanup) takes requests, stages and costs out again.
  await tracker.cleanup({ olderThan: NOW - 10 * DAY });
  await check();
}

/**
 * SQLite's live counts (migration 25, src/store/live-counts.ts) equal a count of the pending
 * and running rows per tenant and lane. PostgreSQL has no such table and counts its rows.
 */
export async function expectLiveCountsMatchRows(db: RollupDb): Promise<void> {
  let kept: Row[];
  try {
    kept = await db.all(
      "SELECT tenant, status, lane, n FROM live_counts WHERE n <> 0 ORDER BY tenant, status, lane",
    );
  } catch (error) {
    if (/live_counts.*does not exist/.test((error as Error).message)) return;
    throw error;
  }
  expect(kept).toEqual(
    await db.all(`SELECT coalesce(tenant_id, '') AS tenant, status, lane, count(*) AS n
    FROM requests WHERE status IN ('pending', 'running') AND deleted_at IS NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`),
  );
}
