import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { NewRequest, Op } from "../../src/core/ops.js";
import type { RequestFilter } from "../../src/core/types.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { newRequestOf } from "../support/new-request.js";
import { describePostgres, freshSchema } from "../support/postgres.js";

/**
 * The request list's filters each read an index that ends in (created_at, id) (migration 24,
 * src/store/list-indexes.ts): the plan of every page seeks in that index and never sorts, on
 * both stores; totals come from the rollups (status, tenant, kind, time) or from a capped
 * count that reads the filter's index; and the pages and totals equal a count of the rows.
 */
const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
let seq = 0;
const request = (id: string, at: number, overrides: Partial<NewRequest>): Op => ({
  type: "create",
  opId: `list:${++seq}`,
  at,
  request: newRequestOf(id, at, overrides),
});

/** 240 requests over 40 hours: 4 tenants, 3 kinds, 5 users, sources, sessions; some failed. */
function seed(): { ops: Op[]; rows: { id: string; at: number; fields: NewRequestFields }[] } {
  const ops: Op[] = [];
  const rows: { id: string; at: number; fields: NewRequestFields }[] = [];
  for (let i = 0; i < 240; i++) {
    const at = T0 + i * 10 * 60_000 + (i % 7) * 1000;
    const id = `r${String(i).padStart(3, "0")}`;
    const fields: NewRequestFields = {
      tenantId: `t${i % 4}`,
      kind: `k${i % 3}`,
      userId: `u${i % 5}`,
      channelId: i % 2 === 0 ? `c${i % 3}` : null,
      sessionId: i % 3 === 0 ? `s${i % 4}` : null,
      source: ["web", "api", "cli"][i % 3] as string,
      parentId: i % 10 === 0 ? "r000" : null,
    };
    ops.push(request(id, at, fields));
    const failed = i % 6 === 1;
    if (failed || i % 6 === 2) {
      ops.push({
        type: "transition",
        opId: `run:${id}`,
        at: at + 10,
        requestId: id,
        to: "running",
      });
      ops.push({
        type: "transition",
        opId: `end:${id}`,
        at: at + 20,
        requestId: id,
        to: failed ? "failed" : "completed",
        ...(failed ? { error: { message: "boom" } } : {}),
      });
    }
    // A few soft-deleted: lists leave them out, totals too.
    if (i % 25 === 3) ops.push({ type: "delete", opId: `del:${id}`, at: at + 30, requestId: id });
    rows.push({
      id,
      at,
      fields: {
        ...fields,
        status: failed ? "failed" : i % 6 === 2 ? "completed" : "pending",
        deleted: i % 25 === 3,
      } as NewRequestFields,
    });
  }
  return { ops, rows };
}
type NewRequestFields = Partial<NewRequest> & { status?: string; deleted?: boolean };

/** Each filter the dashboard offers and the index its page must read. */
const CASES: { filter: Partial<RequestFilter>; index: string }[] = [
  { filter: { status: "failed" }, index: "requests_status" },
  { filter: { tenantId: "t1" }, index: "requests_tenant" },
  { filter: { kind: "k2" }, index: "requests_kind" },
  { filter: { userId: "u3" }, index: "requests_user" },
  // Two filters: either index gives the order.
  { filter: { userId: "u3", status: "failed" }, index: "requests_user|requests_status" },
  { filter: { channelId: "c1" }, index: "requests_channel" },
  { filter: { sessionId: "s0" }, index: "requests_session" },
  { filter: { source: "web" }, index: "requests_source" },
  { filter: { parentId: "r000" }, index: "requests_parent" },
  {
    filter: { kind: "k1", from: new Date(T0 + 5 * HOUR), to: new Date(T0 + 30 * HOUR) },
    index: "requests_kind|requests_created",
  },
  { filter: { from: new Date(T0 + 5 * HOUR) }, index: "requests_created" },
];
/** Filters the rollups cannot count: their total is counted through the index alone. */
const COVERING = /^requests_(user|channel|session|source)\b/;
/** Whether the rollups count the filter's total (so no count over the request rows runs). */
const byRollups = (filter: Partial<RequestFilter>) =>
  Object.keys(filter).every((key) => ["status", "tenantId", "kind", "from", "to"].includes(key));

const { ops, rows } = seed();

/** What the list must answer, from the seed's own rows. */
function expected(filter: Partial<RequestFilter>): string[] {
  return rows
    .filter(({ at, fields }) => {
      if (fields.deleted) return false;
      if (filter.status !== undefined && fields.status !== filter.status) return false;
      for (const key of [
        "tenantId",
        "kind",
        "userId",
        "channelId",
        "sessionId",
        "source",
        "parentId",
      ] as const) {
        if (filter[key] !== undefined && fields[key] !== filter[key]) return false;
      }
      if (filter.from !== undefined && at < filter.from.getTime()) return false;
      if (filter.to !== undefined && at >= filter.to.getTime()) return false;
      return true;
    })
    .sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
    .map((r) => r.id);
}

/** Pages of 7 through the cursor, and the first page's total. */
async function walk(store: Store, filter: Partial<RequestFilter>) {
  const ids: string[] = [];
  let cursor: string | undefined;
  let total = -1;
  for (;;) {
    const page = await store.listRequests({
      limit: 7,
      offset: 0,
      ...filter,
      ...(cursor ? { cursor } : {}),
    });
    if (total < 0) total = page.total;
    ids.push(...page.items.map((r) => r.id));
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return { ids, total };
}

function describeResults(makeStore: () => Promise<Store>) {
  let store: Store | undefined;
  afterEach(async () => store?.close());

  it("pages and totals of every filter equal the rows that match", async () => {
    store = await makeStore();
    await store.apply(ops);
    for (const { filter } of CASES) {
      const want = expected(filter);
      const got = await walk(store, filter);
      expect(got.ids, JSON.stringify(filter)).toEqual(want);
      expect(got.total, JSON.stringify(filter)).toBe(want.length);
    }
    // The rollup-counted total of soft-deleted rows, included.
    const all = await store.listRequests({
      limit: 1,
      offset: 0,
      includeDeleted: true,
      tenantId: "t3",
    });
    expect(all.total).toBe(rows.filter((r) => r.fields.tenantId === "t3").length);
  });
}

describe("request list indexes on SQLite", () => {
  describeResults(async () => new SqliteStore(":memory:"));

  it("every filter's page seeks in its (…, created_at, id) index without a sort", async () => {
    const store = new SqliteStore(":memory:");
    const statements: { sql: string; params: unknown[] }[] = [];
    const prepare = store.db.prepare.bind(store.db);
    store.db.prepare = ((sql: string) => {
      const statement = prepare(sql);
      if (!/FROM requests\b/.test(sql) || /deleted_at IS NOT NULL/.test(sql)) return statement;
      const all = statement.all.bind(statement);
      const get = statement.get.bind(statement);
      statement.all = ((...params: unknown[]) => {
        statements.push({ sql, params });
        return all(...params);
      }) as typeof statement.all;
      statement.get = ((...params: unknown[]) => {
        statements.push({ sql, params });
        return get(...params);
      }) as typeof statement.get;
      return statement;
    }) as typeof store.db.prepare;
    try {
      await store.apply(ops);
      for (const { filter, index } of CASES) {
        statements.length = 0;
        const first = await store.listRequests({ limit: 7, offset: 0, ...filter });
        await store.listRequests({ limit: 7, offset: 0, ...filter, cursor: first.nextCursor! });
        const plans = statements.map(({ sql, params }) => ({
          sql,
          plan: store.db
            .prepare(`EXPLAIN QUERY PLAN ${sql}`)
            .all(...params)
            .map((step) => (step as { detail: string }).detail)
            .join("; "),
        }));
        const pages = plans.filter((p) => p.sql.includes("ORDER BY created_at DESC"));
        expect(pages, JSON.stringify(filter)).toHaveLength(2);
        for (const { plan } of pages) {
          expect(plan, JSON.stringify(filter)).toMatch(
            new RegExp(`SEARCH requests USING INDEX (${index}) `),
          );
          expect(plan, JSON.stringify(filter)).not.toMatch(/TEMP B-TREE/);
        }
        const counts = plans.filter((p) => p.sql.includes("count(*)"));
        if (!byRollups(filter)) {
          expect(counts.length, JSON.stringify(filter)).toBeGreaterThan(0);
          const covering = COVERING.test(index) ? "COVERING " : "";
          for (const { plan } of counts) {
            expect(plan).toMatch(new RegExp(`USING ${covering}INDEX (${index}) `));
          }
        } else {
          // Counted from the rollups: no count over the request rows at all.
          expect(counts, JSON.stringify(filter)).toEqual([]);
        }
      }
    } finally {
      await store.close();
    }
  });
});

describePostgres("request list indexes on PostgreSQL", (url) => {
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  const schemas: { schema: string; drop: () => Promise<void> }[] = [];
  const open = async () => {
    const fresh = await freshSchema(url);
    schemas.push(fresh);
    return PostgresStore.open({ connectionString: url, schema: fresh.schema, maxConnections: 2 });
  };
  afterAll(async () => {
    for (const schema of schemas) await schema.drop();
    await admin.end();
  });

  describeResults(open);

  it("every filter's page reads its (…, created_at, id) index in order, without a sort", async () => {
    const store = await open();
    const schema = schemas.at(-1)!.schema;
    const seen: { text: string; values: unknown[] }[] = [];
    const query = pg.Pool.prototype.query;
    try {
      await store.apply(ops);
      pg.Pool.prototype.query = function (this: pg.Pool, ...args: unknown[]) {
        const config = args[0] as { text?: string; values?: unknown[] } | string;
        const text = typeof config === "string" ? config : (config.text ?? "");
        const values =
          typeof config === "string" ? ((args[1] as unknown[]) ?? []) : (config.values ?? []);
        if (/FROM requests\b/.test(text) && !/deleted_at IS NOT NULL/.test(text))
          seen.push({ text, values });
        return (query as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof query;
      const client = await admin.connect();
      try {
        // Without a sort or a sequential scan to choose, the plan shows what the indexes give.
        await client.query(
          `SET search_path = ${schema}; SET enable_seqscan = off; SET enable_sort = off`,
        );
        for (const { filter, index } of CASES) {
          seen.length = 0;
          const first = await store.listRequests({ limit: 7, offset: 0, ...filter });
          await store.listRequests({ limit: 7, offset: 0, ...filter, cursor: first.nextCursor! });
          const pages = seen.filter((s) => s.text.includes("ORDER BY created_at DESC"));
          expect(pages, JSON.stringify(filter)).toHaveLength(2);
          const counts = seen.filter((s) => s.text.includes("count(*)"));
          const plan = async ({ text, values }: { text: string; values: unknown[] }) =>
            (await client.query<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, values)).rows
              .map((r) => r["QUERY PLAN"])
              .join("\n");
          for (const page of pages) {
            const lines = await plan(page);
            expect(lines, JSON.stringify(filter)).toMatch(
              new RegExp(`Index (Only )?Scan (Backward )?using (${index}) `),
            );
            expect(lines, JSON.stringify(filter)).not.toMatch(/\bSort\b|Seq Scan/);
          }
          if (byRollups(filter)) expect(counts, JSON.stringify(filter)).toEqual([]);
          else expect(counts.length, JSON.stringify(filter)).toBeGreaterThan(0);
          for (const count of counts) {
            const lines = await plan(count);
            expect(lines, JSON.stringify(filter)).toMatch(
              new RegExp(`(Index (Only )?Scan (Backward )?using|Bitmap Index Scan on) (${index}) `),
            );
            expect(lines, JSON.stringify(filter)).not.toMatch(/Seq Scan/);
          }
        }
      } finally {
        client.release();
      }
    } finally {
      pg.Pool.prototype.query = query;
      await store.close();
    }
  });
});
