import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Tracker } from "../../tracker/tracker.js";
import { tenantFilter, visibleScope } from "../auth.js";
import { claimBody, depthQuery, heartbeatBody, idParams, ingestBody } from "../schemas.js";

/** Remote workers (claim, heartbeat) and the remote SDK's batched writes (ingest). */
export const queueRoutes: FastifyPluginAsyncZod<{ tracker: Tracker }> = async (
  app,
  { tracker },
) => {
  const writer = { role: "writer" as const };

  app.post(
    "/queue/claim",
    { config: writer, schema: { body: claimBody, tags: ["queue"] } },
    async (request) => {
      const claimed = await tracker.claimNext({
        ...request.body,
        tenantId: request.principal.tenantId,
      });
      return { request: claimed };
    },
  );

  app.post(
    "/queue/:id/heartbeat",
    { config: writer, schema: { params: idParams, body: heartbeatBody, tags: ["queue"] } },
    async (request) => {
      await visibleScope(tracker, request.principal, request.params.id);
      return { alive: await tracker.heartbeat(request.params.id, request.body.workerId) };
    },
  );

  app.get(
    "/queue/depth",
    { config: { role: "viewer" }, schema: { querystring: depthQuery, tags: ["queue"] } },
    async (request) => {
      const tenantId = tenantFilter(request.principal, request.query.tenantId);
      return tracker.queueDepth(tenantId === undefined ? {} : { tenantId });
    },
  );

  app.post(
    "/ingest",
    { config: writer, schema: { body: ingestBody, tags: ["ingest"] } },
    async (request) => ({
      results: await tracker.ingest(request.body.ops, { tenantId: request.principal.tenantId }),
    }),
  );
};
