import * as http from "node:http";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../../src/server/app.js";
import { captureLogger } from "../support/helpers.js";

interface Frame {
  id?: string;
  event?: string;
  data?: Record<string, unknown>;
  comment?: string;
}

/** A real HTTP client reading Server-Sent Events into parsed frames. */
function subscribe(base: string, path: string, headers: Record<string, string> = {}) {
  const frames: Frame[] = [];
  let buffer = "";
  const request = http.get(`${base}${path}`, { headers }, (response) => {
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
  return {
    frames,
    events: () => frames.filter((f) => f.event),
    close: () => request.destroy(),
  };
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
    const ids = oneRequest.events().map((f) => Number(f.id));
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
    expect(Number(resumed.events()[0]?.id)).toBe(Number(lastSeen) + 1);
    resumed.close();

    // The buffer holds 5 events: a client too far behind gets what is left, not an error.
    for (let i = 0; i < 8; i++) await tracker.logEvent(req, { type: "note" });
    const late = subscribe(base, "/api/v1/stream", { "last-event-id": lastSeen });
    await vi.waitFor(() => expect(late.events()).toHaveLength(5));
    late.close();
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
});
