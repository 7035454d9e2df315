import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Tracker } from "../../tracker/tracker.js";
import { tenantFilter } from "../auth.js";
import { errors } from "../openapi.js";

/** At most this many ids per call: a page of list rows, and a URL of a sane length. */
export const COST_SPLIT_MAX_IDS = 200;

/** The answer of GET /api/v1/costs/by-request. */
export const costSplitSchema = z.object({
  items: z.array(
    z.object({
      requestId: z.string(),
      service: z.string(),
      costUsd: z.number(),
      records: z.number().int(),
    }),
  ),
});

const idList = z
  .string()
  .transform((v) => v.split(","))
  .pipe(
    z
      .array(z.string().min(1, "must not contain an empty id").max(128))
      .min(1)
      .max(COST_SPLIT_MAX_IDS, `at most ${COST_SPLIT_MAX_IDS} ids`),
  );

/**
 * GET /api/v1/costs/by-request?ids=a,b,c: what each request cost per service, so a list (the
 * dashboard's requests page) shows each row's split in one call instead of one per row.
 * Another tenant's request is left out, as if it had no costs.
 */
export const costSplitRoutes: FastifyPluginAsyncZod<{ tracker: Tracker }> = async (
  app,
  { tracker },
) => {
  app.get(
    "/costs/by-request",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "costsByRequest",
        querystring: z.strictObject({ ids: idList }),
        response: { 200: costSplitSchema, ...errors(400) },
        tags: ["costs"],
      },
    },
    async (request) => {
      const tenantId = tenantFilter(request.principal, undefined);
      const split = await tracker.costSplit(
        request.query.ids,
        tenantId === undefined ? {} : { tenantId },
      );
      return {
        items: split.map((s) => ({
          requestId: s.requestId,
          service: s.service,
          costUsd: s.amountMicros / 1_000_000,
          records: s.records,
        })),
      };
    },
  );
};
