import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { ForbiddenError, NotFoundError } from "../../core/errors.js";
import {
  bulkOptionsSchema,
  type ReplayJob,
  replayFilterSchema,
  replayOptionsSchema,
} from "../../tracker/replay.js";
import type { Tracker } from "../../tracker/tracker.js";
import { type Principal, visibleScope } from "../auth.js";
import { BODY_ERRORS, errors } from "../openapi.js";
import { requestSchema } from "../openapi-schemas.js";
import {
  comparisonSchema,
  replayJobListSchema,
  replayJobSchema,
  replayListSchema,
} from "../replay-schemas.js";
import { idParams } from "../schemas.js";

const jobParams = z.object({ jobId: z.string().min(1).max(128) });
const bulkBody = bulkOptionsSchema.extend({ filter: replayFilterSchema });

/**
 * Replay over HTTP: replay one request (a new request linked by `replayOf`), list a request's
 * replays, compare two requests, and bulk replays by filter run as jobs in this process.
 * Every id is checked against the key's tenant first: another tenant's request is a 404.
 */
export const replayRoutes: FastifyPluginAsyncZod<{ tracker: Tracker }> = async (
  app,
  { tracker },
) => {
  const writer = { role: "writer" as const };
  const viewer = { role: "viewer" as const };
  // Bulk jobs started here run in the background; closing the app stops them where they are
  // (a job is resumable: POST /replays/:jobId/resume, or `reqtrack replay --resume`).
  const running = new AbortController();
  app.addHook("onClose", async () => running.abort());

  app.post(
    "/requests/:id/replay",
    {
      config: writer,
      schema: {
        operationId: "replayRequest",
        params: idParams,
        body: replayOptionsSchema.nullish(),
        response: { 201: requestSchema, ...errors(...BODY_ERRORS, 403, 404, 429) },
        tags: ["replay"],
      },
    },
    async (request, reply) => {
      await visibleScope(tracker, request.principal, request.params.id);
      const replay = await tracker.replay(request.params.id, request.body ?? {});
      // Read back once written (a queued create reads as its pending view, without stages),
      // so the answer shows the stages reused from the original.
      await tracker.flush();
      return reply.status(201).send((await tracker.getRequest(replay.id)) ?? replay);
    },
  );

  app.get(
    "/requests/:id/replays",
    {
      config: viewer,
      schema: {
        operationId: "listReplays",
        params: idParams,
        response: { 200: replayListSchema, ...errors(400, 404) },
        tags: ["replay"],
      },
    },
    async (request) => {
      await visibleScope(tracker, request.principal, request.params.id);
      return { items: await tracker.replays.of(request.params.id) };
    },
  );

  app.get(
    "/requests/:id/compare/:otherId",
    {
      config: viewer,
      schema: {
        operationId: "compareRequests",
        params: idParams.extend({ otherId: z.string().min(1).max(128) }),
        response: { 200: comparisonSchema, ...errors(400, 404) },
        tags: ["replay"],
      },
    },
    async (request) => {
      const { id, otherId } = request.params;
      await visibleScope(tracker, request.principal, id);
      await visibleScope(tracker, request.principal, otherId);
      return tracker.replays.compare(id, otherId);
    },
  );

  /** The job, if the caller may see it: a tenant key sees only jobs confined to its tenant. */
  const visibleJob = async (principal: Principal, jobId: string): Promise<ReplayJob> => {
    const job = await tracker.replays.job(jobId);
    if (!job || (principal.tenantId !== null && job.filter.tenantId !== principal.tenantId)) {
      throw new NotFoundError(jobId, { field: "jobId", message: `Replay job ${jobId} not found` });
    }
    return job;
  };

  const runInBackground = (jobId: string) => {
    void tracker.replays.run(jobId, { signal: running.signal }).catch((error: unknown) => {
      app.log.error({ err: error, jobId }, "bulk replay stopped by an error; resume it");
    });
  };

  app.post(
    "/replays",
    {
      config: writer,
      schema: {
        operationId: "startBulkReplay",
        body: bulkBody,
        response: { 202: replayJobSchema, ...errors(...BODY_ERRORS, 403) },
        tags: ["replay"],
      },
    },
    async (request, reply) => {
      const own = request.principal.tenantId;
      const { filter, ...options } = request.body;
      if (own !== null && filter.tenantId !== undefined && filter.tenantId !== own) {
        throw new ForbiddenError(`This API key is confined to tenant ${own}`);
      }
      const job = await tracker.replays.start(
        { ...filter, ...(own !== null ? { tenantId: own } : {}) },
        options,
      );
      runInBackground(job.id);
      return reply.status(202).send(job);
    },
  );

  app.get(
    "/replays",
    {
      config: viewer,
      schema: {
        operationId: "listBulkReplays",
        response: { 200: replayJobListSchema, ...errors() },
        tags: ["replay"],
      },
    },
    async (request) => {
      const own = request.principal.tenantId;
      const jobs = await tracker.replays.jobs();
      return { items: own === null ? jobs : jobs.filter((j) => j.filter.tenantId === own) };
    },
  );

  app.get(
    "/replays/:jobId",
    {
      config: viewer,
      schema: {
        operationId: "getBulkReplay",
        params: jobParams,
        response: { 200: replayJobSchema, ...errors(400, 404) },
        tags: ["replay"],
      },
    },
    async (request) => visibleJob(request.principal, request.params.jobId),
  );

  app.post(
    "/replays/:jobId/resume",
    {
      config: writer,
      schema: {
        operationId: "resumeBulkReplay",
        params: jobParams,
        response: { 202: replayJobSchema, ...errors(400, 403, 404) },
        tags: ["replay"],
      },
    },
    async (request, reply) => {
      const job = await visibleJob(request.principal, request.params.jobId);
      if (job.status !== "completed") runInBackground(job.id);
      return reply.status(202).send(job);
    },
  );
};
