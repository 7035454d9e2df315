import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { NewRequest, Op } from "../../src/core/ops.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { describePostgres, freshSchema } from "../support/postgres.js";

/**
 * Search by prompt text (src/store/prompt-search.ts) on both stores: a case-insensitive
 * substring of initialMessage else a string input.prompt, combined with the other filters
 * (a tenant sees only its own matches), and found in rows stored before the index existed.
 */
const T0 = Date.UTC(2026, 0, 1);
let seq = 0;
const request = (id: string, overrides: Partial<NewRequest> = {}): Op => ({
  type: "create",
  opId: `search:${++seq}`,
  at: T0 + seq,
  request: {
    id,
    priority: 0.5,
    lane: "normal",
    userId: "u",
    channelId: null,
    tenantId: null,
    sessionId: null,
    kind: null,
    source: null,
    tags: [],
    initialMessage: null,
    input: null,
    intent: null,
    entities: null,
    parentId: null,
    correlationId: null,
    maxAttempts: 1,
    timeoutMs: 60_000,
    deadlineAt: null,
    createdAt: T0 + seq,
    ...overrides,
  },
});

const SEED: Op[] = [
  request("a1", { tenantId: "acme", initialMessage: "A watercolour Lighthouse at dusk" }),
  request("a2", { tenantId: "acme", input: { prompt: "lighthouses, storm, oil painting" } }),
  request("a3", { tenantId: "acme", initialMessage: 'the "quoted" word and 50% off' }),
  request("b1", { tenantId: "beta", initialMessage: "LIGHTHOUSE keeper portrait" }),
  request("b2", { tenantId: "beta", input: { prompt: 7, text: "lighthouse" } }),
  request("b3", { tenantId: "beta", initialMessage: "Ünïcode café scene" }),
];

const ids = async (store: Store, filter: object) =>
  (await store.listRequests({ limit: 100, offset: 0, ...filter })).items.map((r) => r.id).sort();

function describeSearch(makeStore: () => Promise<Store>) {
  let store: Store | undefined;
  afterEach(async () => store?.close());

  it("matches substrings inside and across words, whatever the case", async () => {
    store = await makeStore();
    await store.apply(SEED);
    expect(await ids(store, { prompt: "lighthouse" })).toEqual(["a1", "a2", "b1"]);
    expect(await ids(store, { prompt: "GHTHOU" })).toEqual(["a1", "a2", "b1"]);
    expect(await ids(store, { prompt: "lighthouse keeper" })).toEqual(["b1"]);
    expect(await ids(store, { prompt: "storm, oil" })).toEqual(["a2"]);
    expect(await ids(store, { prompt: "house at" })).toEqual(["a1"]);
    expect(await ids(store, { prompt: "lighthouse at dawn" })).toEqual([]);
    expect((await store.listRequests({ limit: 1, offset: 0, prompt: "lighthouse" })).total).toBe(3);
  });

  it("takes quotes, wildcards and operators as text, and short text too", async () => {
    store = await makeStore();
    await store.apply(SEED);
    expect(await ids(store, { prompt: '"quoted"' })).toEqual(["a3"]);
    expect(await ids(store, { prompt: "50%" })).toEqual(["a3"]);
    expect(await ids(store, { prompt: "word AND" })).toEqual(["a3"]);
    expect(await ids(store, { prompt: "OR" })).toEqual(["a2", "a3", "b1"]); // stORm, wORd, pORtrait
    expect(await ids(store, { prompt: "%" })).toEqual(["a3"]);
    expect(await ids(store, { prompt: "café" })).toEqual(["b3"]);
    // Folded as the trigram index folds: non-ASCII letters too.
    expect(await ids(store, { prompt: "CAFÉ SC" })).toEqual(["b3"]);
    expect(await ids(store, { prompt: "üNÏcode" })).toEqual(["b3"]);
    expect(await ids(store, { prompt: "7" })).toEqual([]);
  });

  it("finds the same rows whether the text has a rare trigram or only common ones", async () => {
    store = await makeStore();
    // 2,100 prompts: every trigram of "common prompt" is in all of them (the phrase query);
    // "prompt 1" has rarer ones (the candidates of one trigram, checked one by one).
    const texts = Array.from({ length: 2100 }, (_, i) =>
      i % 2 === 0 ? `Common Prompt ${i}` : `  COMMON PROMPT ${i}!`,
    );
    await store.apply(texts.map((t, i) => request(`c${i}`, { initialMessage: t })));
    for (const text of ["common prompt", "prompt 1", "mpt 20", "PROMPT 209", "t 2099!"]) {
      const expected = texts
        .map((t, i) => [t, `c${i}`] as const)
        .filter(([t]) => t.toLowerCase().includes(text.toLowerCase()))
        .map(([, id]) => id);
      const page = await store.listRequests({ limit: 5000, offset: 0, prompt: text });
      expect(page.items.map((r) => r.id).sort(), text).toEqual(expected.sort());
      expect(page.total, text).toBe(expected.length);
    }
  });

  it("scopes matches to the tenant and the other filters", async () => {
    store = await makeStore();
    await store.apply(SEED);
    expect(await ids(store, { prompt: "lighthouse", tenantId: "acme" })).toEqual(["a1", "a2"]);
    expect(await ids(store, { prompt: "lighthouse", tenantId: "beta" })).toEqual(["b1"]);
    expect(await ids(store, { prompt: "lighthouse", tenantId: "none" })).toEqual([]);
    const page = await store.listRequests({
      limit: 1,
      offset: 0,
      prompt: "lighthouse",
      tenantId: "acme",
    });
    expect(page.total).toBe(2);
    expect(page.items).toHaveLength(1);
  });
}

describe("prompt search on SQLite", () => {
  const dir = mkdtempSync(join(tmpdir(), "reqtrack-search-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describeSearch(async () => new SqliteStore(":memory:"));

  it("backfills the rows of a store made before migration 20, and follows purges", async () => {
    const path = join(dir, `old-${++seq}.db`);
    const first = new SqliteStore(path);
    await first.apply(SEED);
    await first.close();
    // Back to the schema before migration 20, as an older reqtrack left it.
    const db = new Database(path);
    db.exec(`DROP TABLE request_prompts; DELETE FROM schema_migrations WHERE version = 20;
      DROP TRIGGER IF EXISTS request_prompts_insert; DROP TRIGGER IF EXISTS request_prompts_update;
      DROP TRIGGER IF EXISTS request_prompts_delete;`);
    db.close();

    const store = new SqliteStore(path);
    try {
      expect(await ids(store, { prompt: "lighthouse" })).toEqual(["a1", "a2", "b1"]);
      await store.apply([request("c1", { initialMessage: "another lighthouse" })]);
      expect(await ids(store, { prompt: "lighthouse" })).toEqual(["a1", "a2", "b1", "c1"]);
    } finally {
      await store.close();
    }
    const check = new Database(path);
    try {
      const indexed = () =>
        (check.prepare("SELECT count(*) AS n FROM request_prompts").get() as { n: number }).n;
      expect(indexed()).toBe(6); // a1 a2 a3 b1 b3 c1: b2 has no string prompt
      check.exec("DELETE FROM requests WHERE id IN ('a1', 'c1')");
      expect(indexed()).toBe(4);
    } finally {
      check.close();
    }
  });
});

describePostgres("prompt search on PostgreSQL", (url) => {
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  const schemas: { drop: () => Promise<void> }[] = [];
  const open = async (schema?: string) => {
    if (schema) return PostgresStore.open({ connectionString: url, schema, maxConnections: 2 });
    const fresh = await freshSchema(url);
    schemas.push(fresh);
    return PostgresStore.open({ connectionString: url, schema: fresh.schema, maxConnections: 2 });
  };
  afterAll(async () => {
    for (const schema of schemas) await schema.drop();
    await admin.end();
  });

  describeSearch(() => open());

  it("builds the index for a store made before migration 20, and the filter uses it", async () => {
    const fresh = await freshSchema(url);
    schemas.push(fresh);
    const first = await open(fresh.schema);
    await first.apply(SEED);
    await first.close();
    await admin.query(`DROP INDEX ${fresh.schema}.requests_prompt_trgm;
      DELETE FROM ${fresh.schema}.schema_migrations WHERE version = 20`);

    const store = await open(fresh.schema);
    try {
      expect(await ids(store, { prompt: "lighthouse" })).toEqual(["a1", "a2", "b1"]);
    } finally {
      await store.close();
    }
    const client = await admin.connect();
    try {
      await client.query(`SET search_path = ${fresh.schema}; SET enable_seqscan = off`);
      const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN SELECT id
        FROM requests WHERE coalesce(initial_message, CASE WHEN input IS NOT NULL
        AND jsonb_typeof(input::jsonb -> 'prompt') = 'string'
        THEN input::jsonb ->> 'prompt' END) ILIKE '%lighthouse%'`);
      expect(rows.map((r) => r["QUERY PLAN"]).join("\n")).toContain("requests_prompt_trgm");
    } finally {
      client.release();
    }
  });
});
