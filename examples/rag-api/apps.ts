import express from "express";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { createTracker, type Logger, NotFoundError, type Tracker, ValidationError } from "reqtrack";
import { reqtrack as trackExpress } from "reqtrack/express";
import { type HttpTrackingOptions, reqtrack as trackFastify } from "reqtrack/fastify";
import { exampleErrors } from "../shared/http-errors.js";
import { realWait, type Wait } from "../shared/time.js";
import { FakeServices } from "./fake-services.js";
import { listSeedRequests, PAGE_SIZE, seedCostReport, seedRequest } from "./monitoring.js";
import { MissingError, RagApi, type Route } from "./rag.js";

export interface RagApiOptions {
  storage: string;
  clock?: () => number;
  wait?: Wait;
  logger?: Logger;
}

/**
 * The middleware's options: the seed's operation type per route, the tenant (entity) and
 * session from the path, query or JSON body, and the monitoring endpoints left untracked
 * (reading the history does not add to it).
 */
export function trackingOptions(routes: Route[]): HttpTrackingOptions {
  return {
    routes: Object.fromEntries(routes.map((r) => [`${r.method} ${r.path}`, r.kind])),
    tenant: { param: "entity_id", query: "entity_id", body: "entity_id" },
    session: { param: "session_id", query: "session_id", body: "session_id" },
    user: { header: "x-user-id" },
    skip: ({ path }) =>
      !path.startsWith("/api/") || path.startsWith("/api/requests") || path === "/api/cost-report",
  };
}

/** One tracker and RAG API, served by Fastify and, on the same routes, by Express. */
export async function createRagApi(options: RagApiOptions) {
  const tracker: Tracker = await createTracker({
    storage: options.storage,
    pageSize: PAGE_SIZE,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const rag = new RagApi(new FakeServices(options.wait ?? realWait), options.clock);
  const routes = rag.routes();
  return {
    tracker,
    rag,
    fastify: await fastifyApp(tracker, routes),
    express: expressApp(tracker, routes),
  };
}

export type RagApiApps = Awaited<ReturnType<typeof createRagApi>>;

async function monitoringRoute(
  tracker: Tracker,
  path: string,
  query: Record<string, string | undefined>,
) {
  if (path === "/api/requests") return listSeedRequests(tracker, query);
  if (path === "/api/cost-report") return seedCostReport(tracker, query);
  const id = path.slice("/api/requests/".length);
  const found = await tracker.getRequest(id);
  if (!found) throw new NotFoundError(id);
  return seedRequest(found, found.costs);
}

async function fastifyApp(tracker: Tracker, routes: Route[]): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.setErrorHandler((error: FastifyError, request, reply) =>
    error instanceof MissingError
      ? reply
          .status(404)
          .send({ code: "RT_ERR_NOT_FOUND", message: error.message, field: error.field })
      : exampleErrors(error, request, reply),
  );
  await app.register(trackFastify, { tracker, ...trackingOptions(routes) });
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.path,
      handler: (request) =>
        route.handle({
          params: request.params as Record<string, string>,
          query: request.query as Record<string, string>,
          body: bodyOf(request.body),
        }),
    });
  }
  for (const path of ["/api/requests", "/api/requests/:id", "/api/cost-report"]) {
    app.get(path, (request) =>
      monitoringRoute(
        tracker,
        request.url.split("?")[0] ?? "",
        request.query as Record<string, string>,
      ),
    );
  }
  return app;
}

function expressApp(tracker: Tracker, routes: Route[]): express.Express {
  const app = express();
  const track = trackExpress(tracker, trackingOptions(routes));
  // The body is parsed first, so that the middleware can read entity_id and session_id from it.
  app.use(express.json({ limit: "2mb" }), track);
  for (const route of routes) {
    const method = route.method === "GET" ? "get" : route.method === "POST" ? "post" : "delete";
    app[method](route.path, async (req, res) => {
      res.json(
        await route.handle({
          params: req.params as Record<string, string>,
          query: req.query as Record<string, string>,
          body: bodyOf(req.body),
        }),
      );
    });
  }
  for (const path of ["/api/requests", "/api/requests/:id", "/api/cost-report"]) {
    app.get(path, async (req, res) => {
      res.json(await monitoringRoute(tracker, req.path, req.query as Record<string, string>));
    });
  }
  app.use(track.errors);
  app.use(
    (error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      if (error instanceof ValidationError) {
        res.status(400).json({ code: error.code, message: error.message, field: error.field });
      } else if (error instanceof MissingError || error instanceof NotFoundError) {
        res.status(404).json({ code: "RT_ERR_NOT_FOUND", message: error.message });
      } else if ((error as { status?: number }).status === 400) {
        res
          .status(400)
          .json({ code: "RT_ERR_VALIDATION", message: "body is not JSON", field: "body" });
      } else {
        res.status(500).json({ code: "RT_ERR_INTERNAL", message: "internal error" });
      }
    },
  );
  return app;
}

function bodyOf(body: unknown): Record<string, unknown> {
  return typeof body === "object" && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}
