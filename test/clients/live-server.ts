import type { FastifyInstance } from "fastify";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { silentLogger } from "../support/helpers.js";

/** A listening server with a writer key of tenant A, for the generated clients. */
export async function liveServer(): Promise<{
  tracker: Tracker;
  app: FastifyInstance;
  url: string;
  key: string;
  close: () => Promise<void>;
}> {
  const tracker = await createTracker({
    storage: ":memory:",
    logger: silentLogger(),
    watchdogIntervalMs: 0,
  });
  const { key } = await tracker.keys.create({ role: "writer", tenantId: "A" });
  // Compiling in this process blocks its event loop: shedding (tested on its own) would answer 503.
  const app = await buildApp({ tracker, logger: false, shedding: false });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return {
    tracker,
    app,
    url,
    key,
    close: async () => {
      await app.close();
      await tracker.close();
    },
  };
}
