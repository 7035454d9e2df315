import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { Logger } from "../context/logger.js";
import { ReqtrackError } from "../core/errors.js";
import type { Tracker } from "../tracker/tracker.js";
import { checkAppOptions } from "./app-options.js";
import { authenticate, KeylessState } from "./auth.js";
import { dashboardPlugin } from "./dashboard.js";
import type { DetailCacheOptions } from "./detail-cache.js";
import { errorHandler, frameworkErrorHandler } from "./errors.js";
import { ServerMetrics } from "./metrics.js";
import { plainSerializerCompiler, registerOpenApi } from "./openapi.js";
import { alertRoutes } from "./routes/alerts.js";
import { budgetBurndownRoutes } from "./routes/budget-burndown.js";
import { budgetRoutes } from "./routes/budgets.js";
import { priceRoutes } from "./routes/prices.js";
import { replayRoutes } from "./routes/replays.js";
import { costSplitRoutes } from "./routes/cost-split.js";
import { queueRoutes } from "./routes/queue.js";
import { queueStatusRoutes } from "./routes/queue-status.js";
import { requestRoutes } from "./routes/requests.js";
import { statsRoutes } from "./routes/stats.js";
import { streamRoutes } from "./routes/stream.js";
import { whoamiRoutes } from "./routes/whoami.js";
import { recordRoutes } from "./route-table.js";
import { registerCors, registerSecurityHeaders } from "./security-headers.js";
import { registerShedding, type SheddingOptions } from "./shedding.js";
import { SseHub } from "./sse.js";
import { StreamTokens } from "./stream-tokens.js";

export interface AppOptions {
  tracker: Tracker;
  /**
   * Without keys the API is open (every caller is admin). `serve` allows that only on
   * 127.0.0.1; default: open exactly when no active key exists when the app is built. An open
   * app closes (requires keys) as soon as a key exists, without a restart.
   */
  open?: boolean;
  /** Largest accepted request body. Default 1 MiB. */
  bodyLimit?: number;
  /** Events kept for `Last-Event-ID` resumes. Default 1000. */
  streamBuffer?: number;
  /** SSE keep-alive comment period. Default 15 s. */
  keepAliveMs?: number;
  /**
   * Bytes an SSE client may leave unread before it is disconnected (it reconnects and resumes
   * with Last-Event-ID). Default 4 MiB: a stalled client cannot grow the server's memory.
   */
  streamMaxUnsentBytes?: number;
  /** How long a browser stream token (`POST /api/v1/stream/token`) is valid. Default 60 s. */
  streamTokenTtlMs?: number;
  /** Epoch-ms clock of stream tokens; inject one in tests. Default `Date.now`. */
  clock?: () => number;
  /**
   * Load shedding: 503 RT_ERR_OVERLOADED past an event-loop delay or a number of calls in
   * flight (src/server/shedding.ts); false turns it off.
   */
  shedding?: SheddingOptions | false;
  /**
   * Origins (`https://app.example.com`) whose pages may call the API from a browser. Default:
   * none, CORS off.
   */
  corsOrigins?: string[];
  /**
   * The cache of recently read request details (`GET /api/v1/requests/:id`), served only while
   * the store has not changed since (src/server/detail-cache.ts); false turns it off. Default:
   * 1024 requests, 8 Mi characters. PostgreSQL stores cache nothing.
   */
  detailCache?: DetailCacheOptions | false;
  /** Fastify's logger; default: the tracker's logger at warn. */
  logger?: Logger | false;
}

/**
 * Builds the HTTP app (Fastify) on a tracker. It never listens: `serve()` does, and tests
 * call `app.inject()` or listen on port 0.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  checkAppOptions(options);
  const { tracker } = options;
  const open = new KeylessState(options.open ?? (await tracker.keys.countActive()) === 0, tracker);
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    ...(options.logger === false
      ? {}
      : {
          loggerInstance: (options.logger ??
            tracker.logger.child({ component: "http" }, { level: "warn" })) as FastifyBaseLogger,
        }),
    // Request ids are reqtrack's business; Fastify's own stay internal.
    requestIdHeader: false,
    // A URL the router cannot decode (%ED%A0%80) never reaches the error handler.
    frameworkErrors: frameworkErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();
  recordRoutes(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(plainSerializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request) => {
    throw new ReqtrackError(
      "RT_ERR_NOT_FOUND",
      `No route ${request.method} ${request.url.split("?")[0]}`,
    );
  });
  registerSecurityHeaders(app as unknown as FastifyInstance);
  await registerCors(app as unknown as FastifyInstance, options.corsOrigins);
  if (options.shedding !== false) await registerShedding(app, options.shedding);
  app.decorateRequest("principal", null as never);
  const tokens = new StreamTokens(options.streamTokenTtlMs, options.clock);
  app.addHook("onRequest", (request) => authenticate(request, tracker, open, tokens));

  const metrics = new ServerMetrics(tracker);
  app.addHook("onResponse", async (request, reply) => {
    metrics.http.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? "unknown",
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  const hub = new SseHub(
    tracker,
    options.streamBuffer,
    options.keepAliveMs,
    options.streamMaxUnsentBytes,
  );
  metrics.watchStream(hub);
  // preClose runs before the HTTP server stops: streams must end first, or server.close()
  // waits for every connected client to leave.
  app.addHook("preClose", async () => hub.close());
  app.addHook("onClose", async () => {
    hub.close();
    metrics.close();
  });

  await registerOpenApi(app);

  await app.register(requestRoutes, {
    prefix: "/api/v1",
    tracker,
    ...(options.detailCache === undefined ? {} : { detailCache: options.detailCache }),
  });
  await app.register(queueRoutes, { prefix: "/api/v1", tracker });
  await app.register(streamRoutes, { prefix: "/api/v1", hub, tokens });
  await app.register(statsRoutes, { prefix: "/api/v1", tracker });
  await app.register(budgetRoutes, { prefix: "/api/v1", tracker });
  await app.register(replayRoutes, { prefix: "/api/v1", tracker });
  await app.register(priceRoutes, { prefix: "/api/v1", tracker });
  await app.register(queueStatusRoutes, { prefix: "/api/v1", tracker });
  await app.register(whoamiRoutes, { prefix: "/api/v1" });
  await app.register(costSplitRoutes, { prefix: "/api/v1", tracker });
  await app.register(budgetBurndownRoutes, { prefix: "/api/v1", tracker });
  await app.register(alertRoutes, { prefix: "/api/v1", tracker });
  await app.register(dashboardPlugin);

  app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));
  app.get("/readyz", { schema: { hide: true } }, async (_request, reply) => {
    try {
      await tracker.store.getScope("readyz-probe");
    } catch {
      return reply.status(503).send({ ready: false, degraded: tracker.degraded });
    }
    return { ready: true, degraded: tracker.degraded, open: open.current };
  });
  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return app as unknown as FastifyInstance;
}
