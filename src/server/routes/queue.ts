import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Tracker } from "../../tracker/tracker.js";
import { tenantFilter, visibleScope } from "../auth.js";
import { BODY_ERRORS, errors } from "../openapi.js";
import {
  claimResultSchema,
  heartbeatResultSchema,
  ingestAnswerSchema,
  queueDepthSchema,
} from "../openapi-schemas.js";
import { claimBody, depthQuery, heartbeatBody, idParams, ingestBody } from "../schemas.js";

/** Remote workers (claim, heartbeat) and the remote SDK's batched writes (ingest). */
export const queueRoutes: FastifyPluginAsyncZod<{ tracker: Tracker }> = async (
  app,
  { tracker },
) => {
  const writer = { role: "writer" as const };

  app.post(
    "/queue/claim",
    {
      config: writer,
      schema: {
        operationId: "claimRequest",
        body: claimBody,
        response: { 200: claimResultSchema, ...errors(...BODY_ERRORS, 403) },
        tags: ["queue"],
      },
    },
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
    {
      config: writer,
      schema: {
        operationId: "heartbeat",
        params: idParams,
        body: heartbeatBody,
        response: { 200: heartbeatResultSchema, ...errors(...BODY_ERRORS, 403, 404) },
        tags: ["queue"],
      },
    },
    async (request) => {
      await visibleScope(tracker, request.principal, request.params.id);
      return { alive: await tracker.heartbeat(request.params.id, request.body.workerId) };
    },
  );

  app.get(
    "/queue/depth",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "queueDepth",
        querystring: depthQuery,
        response: { 200: queueDepthSchema, ...errors(400) },
        tags: ["queue"],
      },
    },
    async (request) => {
      const tenantId = tenantFilter(request.principal, request.query.tenantId);
      return tracker.queueDepth(tenantId === undefined ? {} : { tenantId });
    },
  );

  app.post(
    "/ingest",
    {
      config: writer,
      schema: {
        operationId: "ingest",
        body: ingestBody,
        response: { 200: ingestAnswerSchema, ...errors(...BODY_ERRORS, 403) },
        tags: ["ingest"],
      },
    },
    async (request) => ({
      results: await tracker.ingest(request.body.ops, { tenantId: request.principal.tenantId }),
    }),
  );
};
