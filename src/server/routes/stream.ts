import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { tenantFilter } from "../auth.js";
import { errors } from "../openapi.js";
import { eventStream } from "../openapi-schemas.js";
import { streamQuery } from "../schemas.js";
import type { SseHub } from "../sse.js";

/** GET /api/v1/stream: live changes as Server-Sent Events, filtered, resumable. */
export const streamRoutes: FastifyPluginAsyncZod<{ hub: SseHub }> = async (app, { hub }) => {
  app.get(
    "/stream",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "stream",
        querystring: streamQuery,
        response: { 200: eventStream, ...errors(400) },
        tags: ["stream"],
      },
    },
    async (request, reply) => {
      const q = request.query;
      const header = request.headers["last-event-id"];
      const lastEventId = typeof header === "string" && header !== "" ? header : null;
      const tenantId = tenantFilter(request.principal, q.tenantId);
      reply.hijack();
      hub.attach(
        reply.raw,
        {
          ...(tenantId !== undefined ? { tenantId } : {}),
          ...(q.status ? { statuses: q.status } : {}),
          ...(q.kind ? { kind: q.kind } : {}),
          ...(q.requestId ? { requestId: q.requestId } : {}),
        },
        lastEventId,
      );
    },
  );
};
