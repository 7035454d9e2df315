import * as net from "node:net";
import { expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { captureLogger } from "../support/helpers.js";

/**
 * Regression: the stream wrote every event to every client whatever it had read, so a client
 * that stopped reading grew the server's memory without bound.
 */
it("cuts off an SSE client that stops reading once it leaves too much unread, and keeps serving the others", async () => {
  const tracker = await createTracker({
    storage: ":memory:",
    logger: captureLogger("error").logger,
    watchdogIntervalMs: 0,
  });
  const app = await buildApp({ tracker, logger: false, streamMaxUnsentBytes: 256 * 1024 });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const metric = async (name: string) => {
    const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
    return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]);
  };
  // A client that sends its request and never reads a byte of the answer.
  const stalled = net.connect(port, "127.0.0.1");
  stalled.pause();
  await new Promise<void>((resolve) => stalled.once("connect", resolve));
  stalled.write(`GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  // And one that reads.
  let read = 0;
  const reader = net.connect(port, "127.0.0.1", () =>
    reader.write(`GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`),
  );
  reader.on("data", (chunk: Buffer) => (read += chunk.length));
  try {
    while ((await metric("reqtrack_stream_clients")) < 2)
      await new Promise((r) => setTimeout(r, 10));
    const big = "x".repeat(100_000);
    // Far more than the kernel's socket buffers hold, so the unread part piles up in the server.
    for (let i = 0; i < 300 && (await metric("reqtrack_stream_clients_dropped")) === 0; i++) {
      tracker.alert({ name: "load", message: big });
      await new Promise((r) => setImmediate(r));
    }
    expect(await metric("reqtrack_stream_clients_dropped")).toBe(1);
    expect(await metric("reqtrack_stream_clients")).toBe(1);
    const before = read;
    tracker.alert({ name: "after", message: "still streaming" });
    while (read === before) await new Promise((r) => setTimeout(r, 10));
  } finally {
    stalled.destroy();
    reader.destroy();
    await app.close();
    await tracker.close();
  }
});
