import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { NotFoundError } from "../../core/errors.js";
import { priceInputSchema } from "../../core/prices.js";
import type { Tracker } from "../../tracker/tracker.js";
import { BODY_ERRORS, errors, noContent } from "../openapi.js";
import { priceListSchema, priceSchema } from "../openapi-schemas.js";
import { isoOrMs, toEpoch } from "../schemas.js";

/** A price row as JSON: `effectiveFrom` is ISO-8601 or epoch milliseconds. */
const priceBody = z
  .strictObject({ ...priceInputSchema.shape, effectiveFrom: isoOrMs.optional() })
  .refine(
    (p) =>
      p.inputUsdPerMillion !== undefined ||
      p.outputUsdPerMillion !== undefined ||
      p.unitUsd !== undefined,
    { message: "give inputUsdPerMillion, outputUsdPerMillion or unitUsd", path: ["price"] },
  );

const service = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/, "must be a service name like openai");

/**
 * /api/v1/prices: the versioned price table that prices costs recorded with usage. It is
 * shared by every tenant: any key reads it, only admin keys (which have no tenant) change it.
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
        body: priceBody,
        response: { 201: priceSchema, ...errors(...BODY_ERRORS, 403) },
        tags: ["prices"],
      },
    },
    async (request, reply) => {
      const { effectiveFrom, ...price } = request.body;
      const from = toEpoch(effectiveFrom);
      const saved = await tracker.prices.set({
        ...price,
        ...(from !== undefined ? { effectiveFrom: from } : {}),
      });
      return reply.status(201).send(saved);
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
