import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { REPLAY_MODES } from "../../analytics/replay-costs.js";
import { GROUP_BY } from "../../analytics/schemas.js";
import { ForbiddenError, NotFoundError } from "../../core/errors.js";
import type { Tracker } from "../../tracker/tracker.js";
import { tenantFilter } from "../auth.js";
import { MAX_EPOCH_MS } from "../../core/schemas.js";
import { toEpoch } from "../schemas.js";
import { errors } from "../openapi.js";
import {
  breakersSchema,
  costReportSchema,
  groupStatsSchema,
  overviewSchema,
  stageStatsSchema,
  timeseriesPointSchema,
} from "../openapi-schemas.js";

const isoOrMs = z.union([
  z.iso.datetime({ offset: true }),
  z.coerce.number().int().nonnegative().max(MAX_EPOCH_MS),
]);
const window = z.string().max(8).optional();
const tenantId = z.string().min(1).max(256).optional();

/** /api/v1/stats/* and /api/v1/costs/report: dashboards, always confined to the key's tenant. */
export const statsRoutes: FastifyPluginAsyncZod<{ tracker: Tracker }> = async (
  app,
  { tracker },
) => {
  const viewer = { role: "viewer" as const };
  const only = <T extends object>(value: T) =>
    Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

  app.get(
    "/stats/overview",
    {
      config: viewer,
      schema: {
        operationId: "statsOverview",
        querystring: z.strictObject({ window, tenantId }),
        response: { 200: overviewSchema, ...errors(400) },
        tags: ["stats"],
      },
    },
    async (request) =>
      tracker.stats.overview(
        only({
          window: request.query.window,
          tenantId: tenantFilter(request.principal, request.query.tenantId),
        }),
      ),
  );

  app.get(
    "/stats/timeseries",
    {
      config: viewer,
      schema: {
        querystring: z.strictObject({
          hours: z.coerce.number().int().optional(),
          bucket: z.enum(["minute", "hour", "day"]).optional(),
          tenantId,
        }),
        operationId: "statsTimeseries",
        response: { 200: z.array(timeseriesPointSchema), ...errors(400) },
        tags: ["stats"],
      },
    },
    async (request) =>
      tracker.stats.timeseries(
        only({
          ...request.query,
          tenantId: tenantFilter(request.principal, request.query.tenantId),
        }),
      ),
  );

  app.get(
    "/stats/groups/:by/:value",
    {
      config: viewer,
      schema: {
        params: z.object({ by: z.enum(GROUP_BY), value: z.string().min(1).max(256) }),
        querystring: z.strictObject({
          bucket: z.enum(["day", "week", "month"]).optional(),
          from: isoOrMs.optional(),
          to: isoOrMs.optional(),
        }),
        operationId: "statsGroup",
        response: { 200: groupStatsSchema, ...errors(400, 403, 404) },
        tags: ["stats"],
      },
    },
    async (request) => {
      const { by, value } = request.params;
      const own = request.principal.tenantId;
      if (own !== null) {
        // Groups other than the key's own tenant would mix tenants: only admins see them.
        if (by !== "tenantId")
          throw new ForbiddenError(`Statistics grouped by ${by} need an admin key`);
        // Says what was asked, the same for a tenant that exists and one that does not.
        if (value !== own) {
          throw new NotFoundError(value, {
            field: "value",
            message: `Statistics group ${value} not found`,
          });
        }
      }
      const q = request.query;
      return tracker.stats.group(
        only({ by, value, bucket: q.bucket, from: toEpoch(q.from), to: toEpoch(q.to) }),
      );
    },
  );

  app.get(
    "/stats/stages",
    {
      config: viewer,
      schema: {
        querystring: z.strictObject({ window, kind: z.string().optional(), tenantId }),
        operationId: "statsStages",
        response: { 200: z.array(stageStatsSchema), ...errors(400) },
        tags: ["stats"],
      },
    },
    async (request) =>
      tracker.stats.stages(
        only({
          ...request.query,
          tenantId: tenantFilter(request.principal, request.query.tenantId),
        }),
      ),
  );

  app.get(
    "/costs/report",
    {
      config: viewer,
      schema: {
        querystring: z.strictObject({
          tenantId,
          sessionId: z.string().min(1).max(256).optional(),
          from: isoOrMs.optional(),
          to: isoOrMs.optional(),
          replays: z.enum(REPLAY_MODES).optional(),
        }),
        operationId: "costReport",
        response: { 200: costReportSchema, ...errors(400) },
        tags: ["costs"],
      },
    },
    async (request) => {
      const q = request.query;
      return tracker.costs.report(
        only({
          tenantId: tenantFilter(request.principal, q.tenantId),
          sessionId: q.sessionId,
          from: toEpoch(q.from),
          to: toEpoch(q.to),
          replays: q.replays,
        }),
      );
    },
  );

  app.get(
    "/breakers",
    {
      config: viewer,
      schema: {
        operationId: "listBreakers",
        response: { 200: breakersSchema, ...errors() },
        tags: ["breakers"],
      },
    },
    async () => ({ breakers: tracker.breakerStats() }),
  );
};
