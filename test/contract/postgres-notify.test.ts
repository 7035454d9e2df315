import { randomBytes } from "node:crypto";
import * as http from "node:http";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChangeEvent } from "../../src/core/ops.js";
import { buildApp } from "../support/app.js";
import { changeChannel } from "../../src/store/postgres/postgres-notify.js";
import {
  PostgresStore,
  type PostgresStoreOptions,
} from "../../src/store/postgres/postgres-store.js";
import { createTracker } from "../../src/tracker/create-tracker.js";
import type { LiveEvent, Tracker } from "../../src/tracker/tracker.js";
import { captureLogger } from "../support/helpers.js";
import { describePostgres, gatedProxy } from "../support/postgres.js";

/**
 * LISTEN/NOTIFY across servers: two trackers (or two HTTP servers) on one PostgreSQL schema
 * see each other's changes, and idle workers wake on work created elsewhere. Same
 * skip/require rules as postgres.test.ts; a fresh schema per test, dropped afterwards.
 */

/** Reads Server-Sent Events from a real HTTP connection into parsed frames. */
function sseClient(address: string) {
  const events: { event: string; data: Record<string, unknown> }[] = [];
  let buffer = "";
  let connected = false;
  const request = http.get(address, (response) => {
    connected = true;
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event: string | undefined;
        let data: Record<string, unknown> | undefined;
        for (const line of raw.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data = JSON.parse(line.slice(6));
        }
        if (event !== undefined && data !== undefined) events.push({ event, data });
      }
    });
  });
  request.on("error", () => {});
  return { events, connected: () => connected, close: () => request.destroy() };
}

describePostgres("on PostgreSQL", (url) => {
  describe("PostgreSQL LISTEN/NOTIFY across servers", () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
      cleanups.length = 0;
    });

    /** A fresh schema (dropped after the test) and two trackers on it, as two servers. */
    let lastSchema = "";
    let admin: pg.Client | null = null;

    /** Server B may get its own store options and clock. */
    async function twoServers(
      b: { store?: Partial<PostgresStoreOptions>; clock?: () => number } = {},
    ): Promise<[Tracker, Tracker]> {
      const schema = `reqtrack_test_${randomBytes(6).toString("hex")}`;
      const client = new pg.Client({ connectionString: url ?? "" });
      await client.connect();
      await client.query(`CREATE SCHEMA ${schema}`);
      cleanups.push(async () => {
        await client.query(`DROP SCHEMA ${schema} CASCADE`);
        await client.end();
      });
      lastSchema = schema;
      admin = client;
      const open = async (options: typeof b = {}) => {
        const store = await PostgresStore.open({
          connectionString: url ?? "",
          schema,
          maxConnections: 4,
          ...(options.clock ? { now: options.clock } : {}),
          ...options.store,
        });
        const tracker = await createTracker({
          storage: store,
          logger: captureLogger("error").logger,
          watchdogIntervalMs: 0,
          ...(options.clock ? { clock: options.clock } : {}),
        });
        cleanups.push(() => tracker.close());
        return tracker;
      };
      return [await open(), await open(b)];
    }

    it("delivers changes made through tracker A to tracker B's subscribers, each once", async () => {
      const [a, b] = await twoServers();
      const seen: LiveEvent[] = [];
      b.subscribe((event) => seen.push(event));

      const req = await a.createRequest({ userId: "u", tenantId: "t1", kind: "video" });
      await a.startRequest(req, "w1");
      await a.startStage(req, "render");
      await a.logEvent(req, { type: "note", message: "halfway" });
      await a.completeStage(req, "render", { frames: 24 });
      await a.completeRequest(req, { ok: true });

      const of = (type: ChangeEvent["type"]) =>
        seen.filter((e): e is ChangeEvent => e.type === type && e.requestId === req.id);
      await vi.waitFor(() => {
        expect(of("request.updated").map((e) => e.status)).toEqual(["running", "completed"]);
      });
      expect(of("request.created")).toHaveLength(1);
      expect(of("stage.updated")).toHaveLength(2);
      expect(of("event.logged")).toHaveLength(1);
      for (const event of seen as ChangeEvent[]) {
        expect(event).toMatchObject({ requestId: req.id, tenantId: "t1", kind: "video" });
      }
      expect(of("request.created")[0]?.status).toBe("pending");
      expect(of("event.logged")[0]?.status).toBe("running");

      // B's own change reaches B's subscribers once (locally), not again through NOTIFY.
      const own = await b.createRequest({ userId: "u", tenantId: "t2" });
      await b.flush();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(seen.filter((e) => "requestId" in e && e.requestId === own.id)).toHaveLength(1);
    });

    it("batches many changes under the NOTIFY limit and drops the data of an oversized one", async () => {
      const [a, b] = await twoServers();
      const seen: ChangeEvent[] = [];
      b.subscribe((event) => {
        if (event.type !== "alert" && event.type !== "resync") seen.push(event);
      });
      // 300 creates in one group commit: more than one 8000-byte notification's worth.
      const created = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          a.createRequest({ userId: `user-${i}`, tenantId: "bulk", kind: "batch" }),
        ),
      );
      const big = created[0]?.id ?? "";
      await a.logEvent(big, { type: "huge", message: "x".repeat(20_000) });
      await vi.waitFor(() => {
        expect(seen.filter((e) => e.type === "event.logged")).toHaveLength(1);
      });
      const ids = new Set(created.map((r) => r.id));
      const creations = seen.filter((e) => e.type === "request.created");
      expect(creations).toHaveLength(300);
      expect(new Set(creations.map((e) => e.requestId))).toEqual(ids);
      const logged = seen.find((e) => e.type === "event.logged");
      expect(logged).toMatchObject({ requestId: big, tenantId: "bulk", kind: "batch" });
      expect(logged?.data).toEqual({ truncated: true });
      // The write itself kept everything.
      expect((await a.getEvents(big)).some((e) => e.message === "x".repeat(20_000))).toBe(true);
    });

    it("listens again after its LISTEN connection is killed", async () => {
      const [a, b] = await twoServers();
      const seen: LiveEvent[] = [];
      b.subscribe((event) => seen.push(event));
      const listening = `LISTEN "${changeChannel(lastSchema)}"`;
      const killed = await admin?.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1",
        [listening],
      );
      expect(killed?.rowCount).toBe(2); // A's and B's listeners

      // Until B listens again, changes are missed: keep creating until one arrives.
      await vi.waitFor(
        async () => {
          await a.createRequest({ userId: "u", tenantId: "again" });
          expect(seen.some((e) => e.type === "request.created" && e.tenantId === "again")).toBe(
            true,
          );
        },
        { timeout: 5000, interval: 100 },
      );
    });

    it("tells B's subscribers and SSE clients to resync after B's LISTEN connection was down and missed a change", async () => {
      // B listens through a proxy that can keep it from reconnecting, so that a change is
      // committed exactly while B is not listening.
      const proxy = await gatedProxy(url ?? "");
      cleanups.push(() => proxy.close());
      let now = Date.UTC(2026, 0, 15, 12, 0, 0);
      const [a, b] = await twoServers({
        store: { listenConnectionString: proxy.url },
        clock: () => now,
      });
      const app = await buildApp({ tracker: b, logger: false, open: true });
      await app.listen({ host: "127.0.0.1", port: 0 });
      cleanups.push(() => app.close());
      const port = (app.server.address() as { port: number }).port;
      const stream = sseClient(`http://127.0.0.1:${port}/api/v1/stream?tenantId=gap`);
      cleanups.push(async () => stream.close());
      await vi.waitFor(() => expect(stream.connected()).toBe(true));
      const seen: LiveEvent[] = [];
      b.subscribe((event) => seen.push(event));

      const lostAt = now;
      proxy.refuse = true;
      const listening = `LISTEN "${changeChannel(lastSchema)}"`;
      const killed = await admin?.query<{ gone: boolean }>(
        // With a timeout, it returns once the backend is gone, not when the signal is sent.
        "SELECT pg_terminate_backend(pid, 5000) AS gone FROM pg_stat_activity WHERE query = $1",
        [listening],
      );
      expect(killed?.rows.map((row) => row.gone)).toEqual([true, true]); // A's and B's
      // B noticed: it tried to listen again and was kept out.
      await vi.waitFor(() => expect(proxy.refused).toBeGreaterThan(0));
      const missed = await a.createRequest({ userId: "u", tenantId: "gap" });

      now += 30_000;
      proxy.refuse = false;
      await vi.waitFor(() => expect(seen.some((e) => e.type === "resync")).toBe(true), {
        timeout: 15_000,
      });
      expect(seen.filter((e) => e.type === "resync")).toEqual([
        { type: "resync", reason: "missed_changes", since: lostAt, at: lostAt + 30_000 },
      ]);
      await vi.waitFor(() =>
        expect(stream.events).toContainEqual({
          event: "resync",
          data: {
            type: "resync",
            reason: "missed_changes",
            since: new Date(lostAt).toISOString(),
            at: new Date(lostAt + 30_000).toISOString(),
          },
        }),
      );
      // The change made during the gap never arrived: the resync is the only way to learn of it.
      const heard = (id: string) =>
        seen.some((e) => "requestId" in e && e.requestId === id) ||
        stream.events.some((e) => e.data.requestId === id);
      expect(heard(missed.id)).toBe(false);

      // Listening again: the next change arrives, after the resync.
      const next = await a.createRequest({ userId: "u", tenantId: "gap" });
      await vi.waitFor(() => expect(heard(next.id)).toBe(true));
      expect(stream.events.map((e) => e.event)).toEqual(["resync", "request.created"]);
      expect(heard(missed.id)).toBe(false);
    });

    it("wakes an idle worker on tracker B when tracker A creates a request", async () => {
      const [a, b] = await twoServers();
      const handled: string[] = [];
      const worker = b.work({ pollMs: 60_000, workerId: "idle-b" }, (request) => {
        handled.push(request.id);
        return "done";
      });
      cleanups.push(async () => {
        // An idle worker's stop() waits out its poll unless woken: a local create wakes it.
        const stopped = worker.stop();
        await b.createRequest({ userId: "u" });
        await stopped;
      });
      // Let the worker find the queue empty and go idle for its 60 s poll.
      await new Promise((resolve) => setTimeout(resolve, 300));

      const started = Date.now();
      const req = await a.createRequest({ userId: "u" });
      await vi.waitFor(() => expect(handled).toContain(req.id), { timeout: 2000, interval: 20 });
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it("two servers: created through A, claimed by B's worker, completed through A; B's SSE client sees every change", async () => {
      const [a, b] = await twoServers();
      const listen = async (tracker: Tracker) => {
        const app = await buildApp({ tracker, logger: false, open: true });
        await app.listen({ host: "127.0.0.1", port: 0 });
        cleanups.push(() => app.close());
        return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      };
      const baseA = await listen(a);
      const baseB = await listen(b);
      const stream = sseClient(`${baseB}/api/v1/stream?tenantId=flow`);
      cleanups.push(async () => stream.close());
      await vi.waitFor(() => expect(stream.connected()).toBe(true));
      const post = async (base: string, path: string, body: unknown) => {
        const response = await fetch(`${base}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return {
          status: response.status,
          body: (await response.json()) as Record<string, unknown>,
        };
      };

      const created = await post(baseA, "/api/v1/requests", {
        userId: "u",
        tenantId: "flow",
        kind: "chat",
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const claim = await post(baseB, "/api/v1/queue/claim", {
        workerId: "worker-on-b",
        kinds: ["chat"],
      });
      expect(claim.body.request).toMatchObject({ id, status: "running", workerId: "worker-on-b" });
      const done = await post(baseA, `/api/v1/requests/${id}/transitions`, {
        to: "completed",
        result: { ok: true },
      });
      expect(done.body).toMatchObject({ status: "completed", workerId: "worker-on-b" });

      const mine = () =>
        stream.events.filter(
          (e) => (e.data as { requestId?: string } | undefined)?.requestId === id,
        );
      await vi.waitFor(() => expect(mine()).toHaveLength(3), { timeout: 5_000 });
      expect(mine().map((e) => [e.event, (e.data as { status: string }).status])).toEqual([
        ["request.created", "pending"],
        ["request.updated", "running"],
        ["request.updated", "completed"],
      ]);
    });

    it("streams a request created through server A's REST API to an SSE client of server B", async () => {
      const [a, b] = await twoServers();
      const listen = async (tracker: Tracker) => {
        const app = await buildApp({ tracker, logger: false, open: true });
        await app.listen({ host: "127.0.0.1", port: 0 });
        cleanups.push(() => app.close());
        return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      };
      const baseA = await listen(a);
      const baseB = await listen(b);
      const stream = sseClient(`${baseB}/api/v1/stream?tenantId=sse`);
      cleanups.push(async () => stream.close());
      await vi.waitFor(() => expect(stream.connected()).toBe(true));

      const response = await fetch(`${baseA}/api/v1/requests`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ userId: "u", tenantId: "sse", kind: "chat" }),
      });
      expect(response.status).toBe(201);
      const created = (await response.json()) as { id: string };

      await vi.waitFor(() =>
        expect(stream.events).toContainEqual(
          expect.objectContaining({
            event: "request.created",
            data: expect.objectContaining({
              requestId: created.id,
              tenantId: "sse",
              kind: "chat",
              status: "pending",
            }),
          }),
        ),
      );
    });
  });
});
