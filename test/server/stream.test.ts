import * as http from "node:http";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTracker, type RemoteGap, SqliteStore, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger } from "../support/helpers.js";

/** The sequence number in an event id (`<server>-<seq>`). */
const seqOf = (id: string | undefined) => Number(id?.split("-")[1]);

interface Frame {
  id?: string;
  event?: string;
  data?: Record<string, unknown>;
  comment?: string;
}

/** Streams still open; closed after each test, so that a failed test does not hang the next. */
const streams = new Set<{ close: () => void }>();

/**
 * A real HTTP client reading Server-Sent Events into parsed frames. `ready` resolves once the
 * server answered, that is once the hub sends this client every new event.
 */
function subscribe(base: string, path: string, headers: Record<string, string> = {}) {
  const frames: Frame[] = [];
  let buffer = "";
  let answered: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    answered = resolve;
  });
  const request = http.get(`${base}${path}`, { headers }, (response) => {
    answered();
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const frame: Frame = {};
        for (const line of raw.split("\n")) {
          if (line.startsWith(":")) frame.comment = line.slice(1).trim();
          else if (line.startsWith("id: ")) frame.id = line.slice(4);
          else if (line.startsWith("event: ")) frame.event = line.slice(7);
          else if (line.startsWith("data: ")) frame.data = JSON.parse(line.slice(6));
        }
        frames.push(frame);
      }
    });
  });
  request.on("error", () => {});
  const stream = {
    frames,
    ready,
    events: () => frames.filter((f) => f.event),
    close: () => {
      request.destroy();
      streams.delete(stream);
    },
  };
  streams.add(stream);
  return stream;
}

/** A SQLite store that, like a PostgreSQL one, can report a gap in what it heard. */
class GappyStore extends SqliteStore {
  announce: ((gap: RemoteGap) => void) | null = null;

  onRemoteGap(listener: (gap: RemoteGap) => void): () => void {
    this.announce = listener;
    return () => {
      this.announce = null;
    };
  }
}

describe("live stream (SSE)", () => {
  let tracker: Tracker;
  let app: FastifyInstance;
  let base: string;

  beforeEach(async () => {
    tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    app = await buildApp({ tracker, logger: false, streamBuffer: 5, keepAliveMs: 25 });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
  });
  afterEach(async () => {
    for (const stream of streams) stream.close();
    await app.close();
    await tracker.close();
  });

  it("delivers filtered events to two subscriptions, with ids and keep-alive comments", async () => {
    const completedInA = subscribe(base, "/api/v1/stream?tenantId=A&status=completed");
    const watched = await tracker.createRequest({
      userId: "u",
      tenantId: "B",
      kind: "chat_message",
    });
    const oneRequest = subscribe(base, `/api/v1/stream?requestId=${watched.id}`);
    await vi.waitFor(() =>
      expect(completedInA.frames.some((f) => f.comment === "keep-alive")).toBe(true),
    );
    await vi.waitFor(() => expect(oneRequest.frames.length).toBeGreaterThan(0));

    const a = await tracker.createRequest({ userId: "u", tenantId: "A" });
    await tracker.startRequest(a);
    await tracker.completeRequest(a);
    await tracker.startRequest(watched);
    await tracker.logEvent(watched, { type: "tool_call", message: "search" });
    await tracker.completeRequest(watched);

    await vi.waitFor(() => expect(oneRequest.events()).toHaveLength(3));
    expect(oneRequest.events().map((f) => [f.event, f.data?.status])).toEqual([
      ["request.updated", "running"],
      ["event.logged", "running"],
      ["request.updated", "completed"],
    ]);
    await vi.waitFor(() => expect(completedInA.events()).toHaveLength(1));
    expect(completedInA.events()[0]).toMatchObject({
      event: "request.updated",
      data: { requestId: a.id, tenantId: "A", status: "completed" },
    });
    const ids = oneRequest.events().map((f) => seqOf(f.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    completedInA.close();
    oneRequest.close();
  });

  it("resumes after Last-Event-ID from the bounded buffer", async () => {
    const first = subscribe(base, "/api/v1/stream");
    await vi.waitFor(() => expect(first.frames.length).toBeGreaterThan(0));
    const req = await tracker.createRequest({ userId: "u" });
    await vi.waitFor(() => expect(first.events()).toHaveLength(1));
    const lastSeen = first.events()[0]?.id as string;
    first.close();

    await tracker.startRequest(req);
    await tracker.logEvent(req, { type: "note" });
    await tracker.completeRequest(req);
    const resumed = subscribe(base, "/api/v1/stream", { "last-event-id": lastSeen });
    await vi.waitFor(() => expect(resumed.events()).toHaveLength(3));
    expect(resumed.events().map((f) => f.event)).toEqual([
      "request.updated",
      "event.logged",
      "request.updated",
    ]);
    expect(seqOf(resumed.events()[0]?.id)).toBe(seqOf(lastSeen) + 1);
    resumed.close();
  });

  it("tells a client too far behind to resync instead of replaying part of what it missed", async () => {
    const first = subscribe(base, "/api/v1/stream");
    await first.ready;
    const req = await tracker.createRequest({ userId: "u" });
    await vi.waitFor(() => expect(first.events()).toHaveLength(1));
    const lastSeen = first.events()[0]?.id as string;
    first.close();

    // The buffer holds 5 events; 8 more push the client's position out of it.
    for (let i = 0; i < 8; i++) await tracker.logEvent(req, { type: "note" });
    const late = subscribe(base, "/api/v1/stream", { "last-event-id": lastSeen });
    await vi.waitFor(() => expect(late.events()).toHaveLength(1));
    const [resync] = late.events();
    expect(resync).toMatchObject({
      event: "resync",
      data: { type: "resync", reason: "resume_unavailable", since: null },
    });
    // Its id is the newest event's: resuming from it replays what came after, nothing more.
    expect(seqOf(resync?.id)).toBe(seqOf(lastSeen) + 8);
    await tracker.logEvent(req, { type: "after" });
    await vi.waitFor(() => expect(late.events()).toHaveLength(2));
    late.close();
    const again = subscribe(base, "/api/v1/stream", { "last-event-id": resync?.id ?? "" });
    await again.ready;
    await tracker.logEvent(req, { type: "later" });
    await vi.waitFor(() => expect(again.events()).toHaveLength(2));
    expect(again.events().map((f) => f.data?.data)).toMatchObject([
      { type: "after" },
      { type: "later" },
    ]);
    again.close();
  });

  it("tells a client resuming with another server's event id to resync", async () => {
    const other = await buildApp({ tracker, logger: false });
    await other.listen({ host: "127.0.0.1", port: 0 });
    try {
      const otherBase = `http://127.0.0.1:${(other.server.address() as { port: number }).port}`;
      const there = subscribe(otherBase, "/api/v1/stream");
      const here = subscribe(base, "/api/v1/stream");
      await Promise.all([there.ready, here.ready]);
      await tracker.createRequest({ userId: "u" });
      await vi.waitFor(() => expect(there.events()).toHaveLength(1));
      await vi.waitFor(() => expect(here.events()).toHaveLength(1));
      // Both servers numbered that event 1, but each in its own series.
      expect(seqOf(there.events()[0]?.id)).toBe(seqOf(here.events()[0]?.id));
      expect(there.events()[0]?.id).not.toBe(here.events()[0]?.id);
      there.close();
      here.close();

      for (const lastEventId of [there.events()[0]?.id ?? "", "17", "garbage"]) {
        const moved = subscribe(base, "/api/v1/stream", { "last-event-id": lastEventId });
        await vi.waitFor(() => expect(moved.events()).toHaveLength(1));
        expect(moved.events()[0]).toMatchObject({
          event: "resync",
          data: { reason: "resume_unavailable" },
        });
        moved.close();
      }
    } finally {
      await other.close();
    }
  });

  it("confines the stream to the key's tenant", async () => {
    await app.close();
    const viewer = await tracker.keys.create({ role: "viewer", tenantId: "A" });
    app = await buildApp({ tracker, logger: false });
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const stream = subscribe(base, "/api/v1/stream?tenantId=B", {
      authorization: `Bearer ${viewer.key}`,
    });
    const unauthorized = await fetch(`${base}/api/v1/stream`);
    expect(unauthorized.status).toBe(401);
    await vi.waitFor(() => expect(stream.frames.length).toBeGreaterThan(0));
    await tracker.createRequest({ userId: "u", tenantId: "B" });
    const mine = await tracker.createRequest({ userId: "u", tenantId: "A" });
    tracker.alert({ name: "circuit_breaker_open", message: "veo breaker opened" });
    await vi.waitFor(() => expect(stream.events()).toHaveLength(2));
    expect(stream.events().map((f) => [f.event, f.data?.requestId ?? f.data?.name])).toEqual([
      ["request.created", mine.id],
      ["alert", "circuit_breaker_open"],
    ]);
    stream.close();
  });

  it("sends a budget's threshold alert to the stream of its tenant's keys, and not to another tenant's", async () => {
    await app.close();
    const mine = await tracker.keys.create({ role: "viewer", tenantId: "A" });
    const theirs = await tracker.keys.create({ role: "viewer", tenantId: "B" });
    app = await buildApp({ tracker, logger: false });
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const a = subscribe(base, "/api/v1/stream", { authorization: `Bearer ${mine.key}` });
    const b = subscribe(base, "/api/v1/stream", { authorization: `Bearer ${theirs.key}` });
    await Promise.all([a.ready, b.ready]);
    const budget = await tracker.budgets.create({ tenantId: "A", period: "day", amountUsd: 1 });
    const request = await tracker.createRequest({ userId: "u", tenantId: "A" });
    await tracker.recordCost(request, { service: "veo", amountUsd: 0.6 });
    await tracker.budgets.evaluate();
    const alerts = (s: typeof a) => s.events().filter((f) => f.event === "alert");
    await vi.waitFor(() => expect(alerts(a)).toHaveLength(1));
    expect(alerts(a)[0]?.data).toMatchObject({
      data: { budget: { budgetId: budget.id, threshold: 50, tenantId: "A", spentUsd: 0.6 } },
    });
    // B's stream saw nothing of A's: no request event, no alert.
    await tracker.createRequest({ userId: "u", tenantId: "B" });
    await vi.waitFor(() => expect(b.events()).toHaveLength(1));
    expect(b.events().map((f) => f.event)).toEqual(["request.created"]);
  });

  it("sends a resync to every subscription when the store missed changes, and replays it on resume", async () => {
    await app.close();
    await tracker.close();
    const store = new GappyStore(":memory:");
    tracker = await createTracker({
      storage: store,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    app = await buildApp({ tracker, logger: false, streamBuffer: 5 });
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

    const tenantA = subscribe(base, "/api/v1/stream?tenantId=A");
    const failed = subscribe(base, "/api/v1/stream?status=failed");
    await Promise.all([tenantA.ready, failed.ready]);
    const req = await tracker.createRequest({ userId: "u", tenantId: "A" });
    await vi.waitFor(() => expect(tenantA.events()).toHaveLength(1));
    const lastSeen = tenantA.events()[0]?.id as string;
    tenantA.close();

    const since = Date.UTC(2026, 0, 15, 12, 0, 0);
    store.announce?.({ since, until: since + 2_500 });
    await tracker.startRequest(req);

    const resync = {
      event: "resync",
      data: {
        type: "resync",
        reason: "missed_changes",
        since: "2026-01-15T12:00:00.000Z",
        at: "2026-01-15T12:00:02.500Z",
      },
    };
    await vi.waitFor(() => expect(failed.events()).toHaveLength(1));
    expect(failed.events()[0]).toMatchObject(resync);
    // Resuming from before the gap replays the resync in its place, then what followed.
    const resumed = subscribe(base, "/api/v1/stream?tenantId=A", { "last-event-id": lastSeen });
    await vi.waitFor(() => expect(resumed.events()).toHaveLength(2));
    expect(resumed.events()[0]).toMatchObject(resync);
    expect(resumed.events()[1]).toMatchObject({
      event: "request.updated",
      data: { status: "running" },
    });
    failed.close();
    resumed.close();
  });
});
