import * as http from "node:http";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger } from "../support/helpers.js";
import { report } from "./support/size.js";

const CLIENTS = 1_000;

/** An SSE client that counts the frames naming `marker`. */
function listen(url: string, marker: () => string) {
  const client = { connected: false, seen: 0, request: null as http.ClientRequest | null };
  client.request = http.get(url, (response) => {
    client.connected = response.statusCode === 200;
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      if (marker() && chunk.includes(marker())) client.seen += 1;
    });
  });
  client.request.on("error", () => {});
  return client;
}

describe("limits under abuse", () => {
  let tracker: Tracker;
  let app: FastifyInstance;
  let base = "";

  beforeAll(async () => {
    tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    app = await buildApp({ tracker, logger: false, bodyLimit: 64 * 1024 });
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
    await tracker.close();
  });

  it(`${CLIENTS} SSE clients on one server: every one gets the event, and the server keeps answering`, async () => {
    let id = "";
    const rssBefore = process.memoryUsage().rss;
    const clients = Array.from({ length: CLIENTS }, () =>
      listen(`${base}/api/v1/stream`, () => id),
    );
    try {
      await vi.waitFor(() => expect(clients.filter((c) => c.connected).length).toBe(CLIENTS), {
        timeout: 60_000,
        interval: 50,
      });
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      id = (await tracker.createRequest({ userId: "u" })).id;
      await vi.waitFor(() => expect(clients.filter((c) => c.seen > 0).length).toBe(CLIENTS), {
        timeout: 60_000,
        interval: 50,
      });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      report("sse fan-out", {
        clients: CLIENTS,
        rssGrowthMiB: Math.round((process.memoryUsage().rss - rssBefore) / 1048576),
      });
    } finally {
      for (const client of clients) client.request?.destroy();
    }
  }, 120_000);

  it("bodies over the limit are a coded 413 on every write path", async () => {
    const big = "x".repeat(80 * 1024);
    for (const [url, payload] of [
      ["/api/v1/requests", { userId: "u", input: big }],
      ["/api/v1/ingest", { ops: [{ opId: "o", type: "create", request: { userId: big } }] }],
    ] as const) {
      const response = await app.inject({ method: "POST", url, payload });
      expect(response.statusCode).toBe(413);
      expect(response.json()).toMatchObject({ code: "RT_ERR_PAYLOAD_TOO_LARGE" });
    }
  });
});
