import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { NotFoundError } from "../../core/errors.js";
import { priceInputSchema } from "../../core/prices.js";
import type { Tracker } from "../../tracker/tracker.js";
import { BODY_ERRORS, errors, noContent } from "../openapi.js";
import { priceListSchema, priceSchema } from "../replay-schemas.js";

/**
 * /api/v1/prices: the versioned price table that prices costs recorded with usage and no
 * amount. Every key may read it (prices are the same for every tenant); only admins change it.
 */
export const priceRoutes: FastifyPluginAsyncZod<{ tracker: Tracker }> = async (
  app,
  { tracker },
) => {
  app.get(
    "/prices",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "listPrices",
        querystring: z.object({ service: z.string().min(1).max(100).optional() }),
        response: { 200: priceListSchema, ...errors(400) },
        tags: ["prices"],
      },
    },
    async (request) => ({
      items: await tracker.prices.list(
        request.query.service !== undefined ? { service: request.query.service } : {},
      ),
    }),
  );

  app.post(
    "/prices",
    {
      config: { role: "admin" },
      schema: {
        operationId: "setPrice",
        body: priceInputSchema,
        response: { 201: priceSchema, ...errors(...BODY_ERRORS, 403) },
        tags: ["prices"],
      },
    },
    async (request, reply) => reply.status(201).send(await tracker.prices.set(request.body)),
  );

  app.delete(
    "/prices/:id",
    {
      config: { role: "admin" },
      schema: {
        operationId: "deletePrice",
        params: z.object({ id: z.string().min(1).max(128) }),
        response: { 204: noContent, ...errors(400, 403, 404) },
        tags: ["prices"],
      },
    },
    async (request, reply) => {
      if (!(await tracker.prices.delete(request.params.id))) {
        throw new NotFoundError(request.params.id, {
          field: "id",
          message: `Price ${request.params.id} not found`,
        });
      }
      return reply.status(204).send();
    },
  );
};
