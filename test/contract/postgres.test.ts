import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { AnyOp, Op, OpResult } from "../../src/core/ops.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { POSTGRES_MIGRATIONS } from "../../src/store/migrations/postgres.js";
import { createTracker } from "../../src/tracker/create-tracker.js";
import { captureLogger } from "../support/helpers.js";
import { resolveOptions } from "../../src/tracker/options.js";
import { describeStoreContract } from "./store-contract.js";
import { describePostgres } from "../support/postgres.js";

/**
 * The contract suite on PostgreSQL, when one is reachable (REQTRACK_PG_URL, else the local
 * test server), each store in a fresh schema dropped afterwards. Unreachable: skipped with a
 * message, unless REQTRACK_REQUIRE_PG=1 (CI with a database), where it fails.
 */
describe("postgres:// storage", () => {
  it("derives no outbox file from a PostgreSQL URL", () => {
    expect(resolveOptions({ storage: "postgres://db.example/reqtrack" }).outboxPath).toBeNull();
    expect(resolveOptions({ storage: "postgresql://db.example/x" }).outboxPath).toBeNull();
    expect(resolveOptions({ storage: "data/x.db" }).outboxPath).toBe("data/x.db.outbox.ndjson");
  });
});

describePostgres("on PostgreSQL", (url) => {
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  const schemas: string[] = [];
  const freshSchema = async () => {
    const schema = `reqtrack_test_${randomBytes(6).toString("hex")}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    schemas.push(schema);
    return schema;
  };
  afterAll(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  });

  describeStoreContract("postgres", async () =>
    PostgresStore.open({ connectionString: url, schema: await freshSchema(), maxConnections: 4 }),
  );

  describe("PostgreSQL store extras", () => {
    const T0 = Date.UTC(2026, 0, 1);

    it("claims each of 2,000 requests exactly once across two stores claiming at once", async () => {
      const schema = await freshSchema();
      const open = () => PostgresStore.open({ connectionString: url, schema, maxConnections: 6 });
      const [a, b] = await Promise.all([open(), open()]);
      try {
        const creates: Op[] = Array.from({ length: 2000 }, (_, i) => ({
          type: "create",
          opId: `c${i}`,
          at: T0 + i,
          request: {
            id: `req_${String(i).padStart(4, "0")}`,
            priority: 0.5,
            lane: (["high", "normal", "low"] as const)[i % 3] ?? "normal",
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
            maxAttempts: 3,
            timeoutMs: 60_000,
            deadlineAt: null,
            createdAt: T0 + i,
          },
        }));
        for (let i = 0; i < creates.length; i += 500) await a.apply(creates.slice(i, i + 500));

        const claimed: string[] = [];
        const byStore = new Map<PostgresStore, number>();
        const worker = async (store: PostgresStore, workerId: string) => {
          for (;;) {
            const batch: AnyOp[] = Array.from({ length: 4 }, () => ({
              type: "claim",
              at: T0 + 10_000,
              workerId,
              kinds: null,
              leaseMs: 30_000,
            }));
            const results: OpResult[] = await store.apply(batch);
            let got = 0;
            for (const result of results) {
              if (!result.ok) throw result.error;
              const request = result.queue?.type === "claim" ? result.queue.request : null;
              if (request) {
                claimed.push(request.id);
                byStore.set(store, (byStore.get(store) ?? 0) + 1);
                got++;
              }
            }
            if (got === 0) return;
          }
        };
        await Promise.all([
          ...[1, 2, 3].map((n) => worker(a, `a${n}`)),
          ...[1, 2, 3].map((n) => worker(b, `b${n}`)),
        ]);

        expect(claimed).toHaveLength(2000);
        expect(new Set(claimed).size).toBe(2000);
        // Both stores took part: the claims really raced.
        expect(byStore.get(a)).toBeGreaterThan(0);
        expect(byStore.get(b)).toBeGreaterThan(0);
        expect(await a.queueDepth()).toEqual({ high: 0, normal: 0, low: 0 });
        const running = await a.listRequests({ limit: 1, offset: 0, status: "running" });
        expect(running.total).toBe(2000);
        const { rows } = await admin.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${schema}.requests WHERE attempts <> 1`,
        );
        expect(rows[0]?.n).toBe("0");
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it("opens a tracker on a postgres:// storage string", async () => {
      const schema = await freshSchema();
      const storage = `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const tracker = await createTracker({ storage, logger: captureLogger().logger });
      try {
        const created = await tracker.createRequest({ userId: "u1", initialMessage: "hi" });
        await tracker.flush();
        expect(await tracker.getRequest(created.id)).toMatchObject({
          userId: "u1",
          status: "pending",
        });
        const { rows } = await admin.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${schema}.requests`,
        );
        expect(rows[0]?.n).toBe("1");
      } finally {
        await tracker.close();
      }
    });

    it("claims only the tenant's requests of the asked kinds for a tenant-scoped worker", async () => {
      const store = await PostgresStore.open({
        connectionString: url,
        schema: await freshSchema(),
      });
      try {
        const request = (id: string, tenantId: string, kind: string): Op => ({
          type: "create",
          opId: id,
          at: T0,
          request: {
            id,
            priority: 0.5,
            lane: "normal",
            userId: "u",
            channelId: null,
            tenantId,
            sessionId: null,
            kind,
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
            createdAt: T0,
          },
        });
        await store.apply([
          request("other-video", "t2", "video"),
          request("mine-chat", "t1", "chat"),
          request("mine-video", "t1", "video"),
        ]);
        const claim = (): AnyOp => ({
          type: "claim",
          at: T0 + 1,
          workerId: "w",
          kinds: ["video", "image"],
          leaseMs: 1000,
          tenantId: "t1",
        });
        const results = await store.apply([claim(), claim()]);
        expect(
          results.map((r) => (r.ok && r.queue?.type === "claim" ? r.queue.request?.id : "error")),
        ).toEqual(["mine-video", undefined]);
      } finally {
        await store.close();
      }
    });

    it("reads BIGINT as numbers in its own pool only", async () => {
      const store = await PostgresStore.open({
        connectionString: url,
        schema: await freshSchema(),
      });
      try {
        expect(await store.queueDepth()).toEqual({ high: 0, normal: 0, low: 0 });
        const { rows } = await admin.query<{ n: unknown }>("SELECT 1::bigint AS n");
        expect(rows[0]?.n).toBe("1");
      } finally {
        await store.close();
      }
    });

    it("migrates a schema once when several stores open it at once", async () => {
      const schema = await freshSchema();
      const stores = await Promise.all(
        [1, 2, 3].map(() => PostgresStore.open({ connectionString: url, schema })),
      );
      await Promise.all(stores.map((store) => store.close()));
      const { rows } = await admin.query<{ version: number }>(
        `SELECT version FROM ${schema}.schema_migrations ORDER BY version`,
      );
      expect(rows.map((row) => row.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    });

    it("counts a refused connection as the store being unavailable", async () => {
      const store = await PostgresStore.open({
        connectionString: url,
        schema: await freshSchema(),
      });
      await store.close();
      const dead = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:1/test" });
      const error = await dead.connect().then(
        () => null,
        (e: unknown) => e,
      );
      expect(store.isUnavailable(error)).toBe(true);
      expect(store.isUnavailable({ code: "57P01" })).toBe(true);
      expect(store.isUnavailable({ code: "08006" })).toBe(true);
      expect(store.isUnavailable({ code: "53300" })).toBe(true);
      expect(store.isUnavailable({ code: "23502" })).toBe(false);
      expect(store.isUnavailable({ code: "40P01" })).toBe(false);
    });
  });
});
