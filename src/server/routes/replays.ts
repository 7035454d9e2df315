import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { NotFoundError } from "../../core/errors.js";
import { replayOptionsSchema } from "../../tracker/replay.js";
import type { Tracker } from "../../tracker/tracker.js";
import type { Principal } from "../auth.js";
import { BODY_ERRORS, errors } from "../openapi.js";
import { comparisonSchema, requestSchema } from "../openapi-schemas.js";
import { idParams } from "../schemas.js";

/**
 * Replay and compare. A replay is a new request (`replayOf` the original), budget-checked like
 * any create; another tenant's request, a deleted one or an unknown one is a 404. Bulk replay
 * by filter is a long job with a rate limit and resumable progress: it is CLI-only
 * (`reqtrack replay --status ...`), not an HTTP call.
 */
export const replayRoutes: FastifyPluginAsyncZod<{ tracker: Tracker }> = async (
  app,
  { tracker },
) => {
  /** Unknown, deleted or another tenant's: the same 404, naming the input that named it. */
  const visible = async (principal: Principal, id: string, field: string) => {
    const scope = await tracker.store.getScope(id);
    if (!scope || (principal.tenantId !== null && scope.tenantId !== principal.tenantId)) {
      throw new NotFoundError(id, { field });
    }
  };

  app.post(
    "/requests/:id/replay",
    {
      config: { role: "writer" },
      schema: {
        operationId: "replayRequest",
        params: idParams,
        body: replayOptionsSchema.nullish(),
        response: { 201: requestSchema, ...errors(...BODY_ERRORS, 403, 404, 409, 429) },
        tags: ["replay"],
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await visible(request.principal, id, "id");
      const replay = await tracker.replay(id, request.body ?? {});
      // Read back: the answer carries the stages copied from the original (fromStage).
      return reply.status(201).send((await tracker.getRequest(replay.id)) ?? replay);
    },
  );

  app.get(
    "/requests/:id/compare/:otherId",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "compareRequests",
        params: idParams.extend({ otherId: z.string().min(1).max(128) }),
        response: { 200: comparisonSchema, ...errors(400, 404) },
        tags: ["replay"],
      },
    },
    async (request) => {
      const { id, otherId } = request.params;
      await visible(request.principal, id, "id");
      await visible(request.principal, otherId, "otherId");
      return tracker.replays.compare(id, otherId);
    },
  );
};
