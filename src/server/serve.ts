import type { FastifyInstance } from "fastify";
import { ValidationError } from "../core/errors.js";
import type { Tracker } from "../tracker/tracker.js";
import { buildApp } from "./app.js";
import { checkServeOptions } from "./app-options.js";
import type { SheddingOptions } from "./shedding.js";

export interface ServeOptions {
  tracker: Tracker;
  host?: string;
  port?: number;
  bodyLimit?: number;
  /** How long `close()` lets in-flight HTTP requests finish before cutting them. Default 10 s. */
  closeGraceMs?: number;
  /** Load shedding (503 RT_ERR_OVERLOADED); see `AppOptions.shedding`. */
  shedding?: SheddingOptions | false;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** True when no API key exists: every caller is admin, and only loopback is bound. */
  open: boolean;
  /** Stops accepting, lets in-flight requests finish, then flushes and closes the tracker. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * Listens on `host:port` (default 127.0.0.1:7600). With no API key the API is open, so it
 * refuses any address but loopback until a key exists.
 */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  checkServeOptions(options);
  const { tracker } = options;
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 7600;
  const closeGraceMs = options.closeGraceMs ?? 10_000;
  const open = (await tracker.keys.countActive()) === 0;
  if (open && !LOOPBACK.has(host)) {
    throw new ValidationError(
      "host",
      `no API key exists, so the API would be open to anyone on ${host}; create one first ` +
        "(reqtrack keys create --role admin) or bind 127.0.0.1",
    );
  }
  const app = await buildApp({
    tracker,
    open,
    ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
    ...(options.shedding !== undefined ? { shedding: options.shedding } : {}),
  });
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${actualPort}`;
  let closing: Promise<void> | null = null;
  return {
    app,
    url,
    open,
    close: () => {
      closing ??= (async () => {
        // Bounded whatever clients do: past the grace, connections still open are cut.
        const cut = setTimeout(() => app.server.closeAllConnections(), closeGraceMs);
        try {
          await app.close();
        } finally {
          clearTimeout(cut);
        }
        await tracker.close();
      })();
      return closing;
    },
  };
}
