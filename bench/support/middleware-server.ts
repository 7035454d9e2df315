/**
 * The server side of bench/middleware.ts, one process per run so that the load generator does
 * not share its event loop: a Fastify app with a trivial GET /api/ping, bare, with the
 * reqtrack plugin tracking into a SQLite file, or with the plugin and its writes discarded.
 * `checked` tracks like `tracked` but through the tracker's public, validating methods only
 * (the middleware's path before its trusted entry points; see src/tracker/trusted-calls.ts),
 * for A/B runs with bench/support/middleware-ab.ts.
 *
 *   node --import tsx bench/support/middleware-server.ts <bare|noop|tracked|checked> <sqlite file>
 *
 * Sends { port } over IPC once listening; on "stop", flushes, sends { tracked } (the number of
 * requests stored, completed) and exits.
 */
import Fastify from "fastify";
import { pino } from "pino";
import { createTracker, type Tracker } from "../../src/index.js";
import { reqtrack } from "../../src/integrations/fastify.js";
import { beginTrustedCall, completeTrustedCall } from "../../src/tracker/trusted-calls.js";

const [variant, storage] = process.argv.slice(2);
if (variant !== "bare" && variant !== "noop" && variant !== "tracked" && variant !== "checked") {
  throw new Error(`unknown variant ${variant}`);
}

/** A tracker whose writes go nowhere: what the middleware itself costs, store aside. */
function discardingTracker(): Tracker {
  const done = async () => {};
  return {
    logger: pino({ level: "silent" }),
    createRequest: done,
    startRequest: done,
    completeRequest: done,
    failRequest: done,
    cancelRequest: done,
    // The middleware checks that it was handed a tracker by these methods.
    subscribe: () => () => {},
  } as unknown as Tracker;
}

const app = Fastify({ logger: false });
let tracker: Tracker | undefined;
if (variant === "tracked" || variant === "checked") {
  tracker = await createTracker({
    storage: storage as string,
    logger: pino({ level: "silent" }),
    watchdogIntervalMs: 0,
  });
}
/** The tracker with its trusted entry points hidden: the middleware falls back to the public methods. */
function checkedOnly(real: Tracker): Tracker {
  return Object.create(real, {
    [beginTrustedCall]: { value: undefined },
    [completeTrustedCall]: { value: undefined },
  }) as Tracker;
}

if (variant !== "bare") {
  await app.register(reqtrack, {
    tracker: tracker
      ? variant === "checked"
        ? checkedOnly(tracker)
        : tracker
      : discardingTracker(),
    routes: { "GET /api/ping": "ping" },
  });
}
app.get("/api/ping", async () => ({ pong: true }));
await app.listen({ port: 0, host: "127.0.0.1" });
const address = app.server.address();
process.send?.({ port: typeof address === "object" && address ? address.port : 0 });

process.on("message", async (message) => {
  if (message !== "stop") return;
  await app.close();
  let tracked: number | null = null;
  if (tracker) {
    await tracker.flush();
    tracked = (await tracker.listRequests({ status: "completed", kind: "ping", limit: 0 })).total;
    await tracker.close();
  }
  process.send?.({ tracked }, () => process.exit(0));
});
