import { EventSource } from "eventsource";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { fakeClock, silentLogger } from "../support/helpers.js";

/** Browsers' EventSource (the `eventsource` package is the same WHATWG client for Node). */
function open(url: string) {
  const source = new EventSource(url);
  const seen: { type: string; requestId?: string; tenantId?: string | null }[] = [];
  const errors: { code?: number }[] = [];
  for (const type of ["request.created", "request.updated"]) {
    source.addEventListener(type, (e) => seen.push(JSON.parse(e.data)));
  }
  source.onerror = (e) => errors.push({ code: (e as { code?: number }).code });
  return { source, seen, errors };
}

describe("stream tokens for EventSource", () => {
  let tracker: Tracker;
  let app: FastifyInstance;
  let base: string;
  let time: ReturnType<typeof fakeClock>;
  let viewerA: string;
  const sources: EventSource[] = [];

  beforeEach(async () => {
    time = fakeClock();
    tracker = await createTracker({
      storage: ":memory:",
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    viewerA = (await tracker.keys.create({ role: "viewer", tenantId: "A" })).key;
    app = await buildApp({ tracker, logger: false, clock: time.clock, streamTokenTtlMs: 60_000 });
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterEach(async () => {
    for (const source of sources) source.close();
    await app.close();
    await tracker.close();
  });

  const tokenFor = async (key: string | null) => {
    const response = await fetch(`${base}/api/v1/stream/token`, {
      method: "POST",
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };

  it("opens a stream with ?token=, confined to the key's tenant", async () => {
    const { status, body } = await tokenFor(viewerA);
    expect(status).toBe(201);
    expect(body.token).toMatch(/^st_[\w-]{32}$/);
    expect(body.expiresAt).toBe(new Date(time.now() + 60_000).toISOString());

    // The token stands for a viewer of A: asking for B still gets only A.
    const stream = open(`${base}/api/v1/stream?tenantId=B&token=${body.token}`);
    sources.push(stream.source);
    await vi.waitFor(() => expect(stream.source.readyState).toBe(EventSource.OPEN));
    const b = await tracker.createRequest({ userId: "u", tenantId: "B" });
    const a = await tracker.createRequest({ userId: "u", tenantId: "A" });
    await vi.waitFor(() => expect(stream.seen.map((e) => e.requestId)).toContain(a.id));
    expect(stream.seen.map((e) => e.requestId)).not.toContain(b.id);
    expect(stream.seen.every((e) => e.tenantId === "A")).toBe(true);
  });

  it("refuses a stream without a key or token, with an unknown token, and after 60 s", async () => {
    expect((await tokenFor(null)).status).toBe(401);
    const { body } = await tokenFor(viewerA);
    const status = async (query: string) => (await fetch(`${base}/api/v1/stream${query}`)).status;
    expect(await status("")).toBe(401);
    expect(await status("?token=st_unknown")).toBe(401);

    time.advance(60_000);
    const expired = open(`${base}/api/v1/stream?token=${body.token}`);
    sources.push(expired.source);
    await vi.waitFor(() => expect(expired.errors).toEqual([{ code: 401 }]));
    expect(expired.source.readyState).toBe(EventSource.CLOSED);
  });

  it("takes the token only on the stream, not as a key for other routes", async () => {
    const { body } = await tokenFor(viewerA);
    const response = await fetch(`${base}/api/v1/requests?token=${body.token}`);
    expect(response.status).toBe(401);
  });
});
