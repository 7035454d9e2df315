import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { ForbiddenError, NotFoundError } from "../../core/errors.js";
import { priceInputSchema } from "../../core/prices.js";
import type { Tracker } from "../../tracker/tracker.js";
import type { Principal } from "../auth.js";
import { BODY_ERRORS, errors, noContent } from "../openapi.js";
import { priceListSchema, priceSchema } from "../openapi-schemas.js";

const service = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/, "must be a service name like openai");

/**
 * The price table is shared by every tenant: any key may read it, and only an admin key of
 * no tenant may change it (a tenant's key would reprice the others' costs).
 */
function assertTableAdmin(principal: Principal): void {
  if (principal.role !== "admin" || principal.tenantId !== null) {
    throw new ForbiddenError("Only an admin key of no tenant may change the price table");
  }
}

/** /api/v1/prices: the versioned price table that prices costs recorded with usage. */
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
        querystring: z.strictObject({ service: service.optional() }),
        response: { 200: priceListSchema, ...errors(400) },
        tags: ["prices"],
      },
    },
    async (request) => {
      const { service: only } = request.query;
      return { items: await tracker.prices.list(only !== undefined ? { service: only } : {}) };
    },
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
    async (request, reply) => {
      assertTableAdmin(request.principal);
      return reply.status(201).send(await tracker.prices.set(request.body));
    },
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
      assertTableAdmin(request.principal);
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
