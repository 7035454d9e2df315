import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { tenantFilter } from "../auth.js";
import { errors } from "../openapi.js";
import { eventStream, streamTokenSchema } from "../openapi-schemas.js";
import { streamQuery } from "../schemas.js";
import type { SseHub } from "../sse.js";
import type { StreamTokens } from "../stream-tokens.js";

/**
 * GET /api/v1/stream: live changes as Server-Sent Events, filtered, resumable. Browsers'
 * EventSource cannot send the key: POST /api/v1/stream/token gives a short-lived token
 * (the key's role and tenant) to pass as `?token=`.
 */
export const streamRoutes: FastifyPluginAsyncZod<{ hub: SseHub; tokens: StreamTokens }> = async (
  app,
  { hub, tokens },
) => {
  app.post(
    "/stream/token",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "createStreamToken",
        response: { 201: streamTokenSchema, ...errors() },
        tags: ["stream"],
      },
    },
    async (request, reply) => {
      const { token, expiresAt } = tokens.issue(request.principal);
      return reply.status(201).send({ token, expiresAt: expiresAt.toISOString() });
    },
  );

  app.get(
    "/stream",
    {
      config: { role: "viewer", streamToken: true },
      schema: {
        operationId: "stream",
        security: [{ bearer: [] }, { streamToken: [] }],
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
