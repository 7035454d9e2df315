import type { FastifyInstance } from "fastify";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { silentLogger } from "../support/helpers.js";

/** What the server saw of the ingest calls: ops per call, and how many ran at once. */
export interface IngestLog {
  calls: number[];
  maxConcurrent: number;
}

export interface TestServer {
  tracker: Tracker;
  /** An admin key made on the first start of this file; null on restarts (it is still valid). */
  adminKey: string | null;
  app: FastifyInstance;
  url: string;
  port: number;
  ingest: IngestLog;
  /** Answers of the next `n` ingest calls are lost: the socket is cut after the ops were applied. */
  dropAnswers(n: number): void;
  /** The answer of the next ingest call waits (its ops applied) until the returned function runs. */
  holdAnswer(): () => void;
  /** What `reqtrack serve` does on shutdown: stop the app, then flush and close the tracker. */
  stop(): Promise<void>;
}

/**
 * A real reqtrack server on 127.0.0.1 over a SQLite file, with keys (so not open). `port` 0
 * picks a free one; a restart passes the previous port and the same file.
 */
export async function startServer(
  storage: string,
  port = 0,
  options: { bodyLimit?: number } = {},
): Promise<TestServer> {
  const tracker = await createTracker({
    storage,
    logger: silentLogger(),
    watchdogIntervalMs: 0,
  });
  // Keys must exist before the app is built, or it is built open (no authentication).
  const adminKey =
    (await tracker.keys.countActive()) === 0
      ? (await tracker.keys.create({ role: "admin", name: "test" })).key
      : null;
  const app = await buildApp({ tracker, logger: false, ...options });
  const ingest: IngestLog = { calls: [], maxConcurrent: 0 };
  let inFlight = 0;
  let drops = 0;
  let hold: Promise<void> | null = null;
  const counted = new WeakSet<object>();
  app.addHook("preHandler", async (request) => {
    if (request.url !== "/api/v1/ingest") return;
    counted.add(request);
    ingest.calls.push((request.body as { ops: unknown[] }).ops.length);
    inFlight++;
    ingest.maxConcurrent = Math.max(ingest.maxConcurrent, inFlight);
  });
  app.addHook("onSend", async (request, reply, payload) => {
    if (!counted.has(request)) return payload;
    if (hold) {
      const wait = hold;
      hold = null;
      await wait;
    }
    inFlight--;
    if (drops > 0 && reply.statusCode === 200) {
      drops--;
      request.raw.socket.destroy();
    }
    return payload;
  });
  await app.listen({ host: "127.0.0.1", port });
  const address = app.server.address();
  const actual = typeof address === "object" && address ? address.port : port;
  let stopping: Promise<void> | null = null;
  return {
    tracker,
    adminKey,
    app,
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    ingest,
    dropAnswers(n) {
      drops = n;
    },
    holdAnswer() {
      let release = () => {};
      hold = new Promise<void>((resolve) => {
        release = resolve;
      });
      return release;
    },
    stop() {
      stopping ??= (async () => {
        await app.close();
        await tracker.close();
      })();
      return stopping;
    },
  };
}
