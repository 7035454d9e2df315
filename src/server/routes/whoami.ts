import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { API_KEY_ROLES } from "../../core/types.js";
import { errors } from "../openapi.js";

/** The answer of GET /api/v1/whoami. */
export const whoamiSchema = z.object({
  /** Null on an open (keyless, loopback-only) server. */
  keyId: z.string().nullable(),
  role: z.enum(API_KEY_ROLES),
  /** Null: every tenant. */
  tenantId: z.string().nullable(),
});

/**
 * GET /api/v1/whoami: the caller's role and tenant, so a client (the dashboard) can check a
 * key and hide what the key may not do. It reveals nothing the key's holder does not know.
 */
export const whoamiRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    "/whoami",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "whoami",
        response: { 200: whoamiSchema, ...errors() },
        tags: ["auth"],
      },
    },
    async (request) => {
      const { keyId, role, tenantId } = request.principal;
      return { keyId, role, tenantId };
    },
  );
};
