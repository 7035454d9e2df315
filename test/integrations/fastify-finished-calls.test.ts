import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { reqtrack } from "../../src/integrations/fastify.js";
import { silentLogger } from "../support/helpers.js";

describe("fastify middleware writes", () => {
  it("writes a call answered before its batch commits as one finished op, and fails a 5xx the same way", async () => {
    const tracker = await createTracker({
      storage: ":memory:",
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    const applied: string[] = [];
    const apply = tracker.store.apply.bind(tracker.store);
    tracker.store.apply = (ops, options) => {
      applied.push(...ops.map((op) => op.type));
      return apply(ops, options);
    };
    const app = Fastify();
    await app.register(reqtrack, { tracker, routes: { "GET /api/ping": "ping" } });
    app.get("/api/ping", async () => ({ pong: true }));
    app.get("/api/boom", async () => {
      throw new Error("boom");
    });
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    const ids: string[] = [];
    for (const path of ["/api/ping", "/api/ping", "/api/boom"]) {
      const response = await fetch(`${url}${path}`);
      await response.text();
      ids.push(response.headers.get("x-request-id") ?? "");
    }
    await tracker.flush();
    expect(applied).toEqual(["finished", "finished", "finished"]);
    const stored = await Promise.all(ids.map((id) => tracker.getRequest(id)));
    expect(stored.map((r) => r?.status)).toEqual(["completed", "completed", "failed"]);
    expect(stored[2]).toMatchObject({ errorMessage: "boom", kind: "other" });
    expect((await tracker.getEvents(ids[0] as string)).map((e) => e.type)).toEqual([
      "request_created",
      "status_changed",
      "status_changed",
    ]);
    await app.close();
    await tracker.close();
  });
});
