import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { ForbiddenError, NotFoundError } from "../../core/errors.js";
import { logEventSchema, recordCostSchema } from "../../core/schemas.js";
import type { Tracker } from "../../tracker/tracker.js";
import { tenantFilter, visibleScope } from "../auth.js";
import { DetailCache, type DetailCacheOptions } from "../detail-cache.js";
import { BODY_ERRORS, createdNoBody, errors, noContent } from "../openapi.js";
import { eventListSchema, requestPageSchema, requestSchema } from "../openapi-schemas.js";
import { requestDetailSchema } from "../replay-schemas.js";
import {
  createRequestBody,
  idParams,
  listQuery,
  stageBody,
  stageParams,
  toEpoch,
  transitionBody,
} from "../schemas.js";

const JSON_TYPE = "application/json; charset=utf-8";

/** /api/v1/requests: create, list, detail, soft delete, transitions, stages, events, costs. */
export const requestRoutes: FastifyPluginAsyncZod<{
  tracker: Tracker;
  detailCache?: DetailCacheOptions | false;
}> = async (app, { tracker, detailCache }) => {
  const cache = new DetailCache(detailCache === false ? { maxEntries: 0 } : detailCache);
  const writer = { role: "writer" as const };
  const viewer = { role: "viewer" as const };

  app.post(
    "/requests",
    {
      config: writer,
      schema: {
        operationId: "createRequest",
        body: createRequestBody,
        response: { 201: requestSchema, ...errors(...BODY_ERRORS, 403, 409, 429) },
        tags: ["requests"],
      },
    },
    async (request, reply) => {
      const own = request.principal.tenantId;
      const { deadline, ...body } = request.body;
      if (own !== null && body.tenantId !== undefined && body.tenantId !== own) {
        throw new ForbiddenError(`This API key is confined to tenant ${own}`);
      }
      const created = await tracker.createRequest({
        ...body,
        ...(own !== null ? { tenantId: own } : {}),
        ...(deadline !== undefined ? { deadline: toEpoch(deadline) } : {}),
      });
      return reply.status(201).send(created);
    },
  );

  app.get(
    "/requests",
    {
      config: viewer,
      schema: {
        operationId: "listRequests",
        querystring: listQuery,
        response: { 200: requestPageSchema, ...errors(400) },
        tags: ["requests"],
      },
    },
    async (request) => {
      const q = request.query;
      return tracker.listRequests({
        ...q,
        tenantId: tenantFilter(request.principal, q.tenantId),
        from: toEpoch(q.from),
        to: toEpoch(q.to),
        includeDeleted: q.includeDeleted === "true",
      });
    },
  );

  app.get(
    "/requests/:id",
    {
      config: viewer,
      schema: {
        operationId: "getRequest",
        params: idParams,
        response: { 200: requestDetailSchema, ...errors(400, 404) },
        tags: ["requests"],
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // The stamp before the data: a write landing between the two moves the stamp, so the
      // entry kept below is never served after it (see DetailCache).
      const stamp = await tracker.changeStamp();
      let detail = cache.get(id, stamp);
      if (!detail) {
        const found = await tracker.getRequestDetail(id);
        if (!found) throw new NotFoundError(id);
        detail = { tenantId: found.tenantId, json: JSON.stringify(found) };
        cache.set(id, stamp, detail);
      }
      // Checked on every answer, cached or not: another tenant's request does not exist.
      const own = request.principal.tenantId;
      if (own !== null && detail.tenantId !== own) throw new NotFoundError(id);
      return reply.type(JSON_TYPE).send(detail.json as never);
    },
  );

  app.delete(
    "/requests/:id",
    {
      config: writer,
      schema: {
        operationId: "deleteRequest",
        params: idParams,
        response: { 204: noContent, ...errors(...BODY_ERRORS, 403, 404) },
        tags: ["requests"],
      },
    },
    async (request, reply) => {
      await visibleScope(tracker, request.principal, request.params.id);
      await tracker.deleteRequest(request.params.id);
      return reply.status(204).send();
    },
  );

  app.post(
    "/requests/:id/transitions",
    {
      config: writer,
      schema: {
        operationId: "transitionRequest",
        params: idParams,
        body: transitionBody,
        response: { 200: requestSchema, ...errors(...BODY_ERRORS, 403, 404, 409) },
        tags: ["requests"],
      },
    },
    async (request) => {
      const { id } = request.params;
      await visibleScope(tracker, request.principal, id);
      const b = request.body;
      switch (b.to) {
        case "running":
          await tracker.startRequest(id, b.workerId);
          break;
        case "completed":
          await tracker.completeRequest(id, b.result);
          break;
        case "failed":
          await tracker.failRequest(id, b.error ?? "failed");
          break;
        case "timeout":
          await tracker.timeoutRequest(id);
          break;
        case "cancelled":
          await tracker.cancelRequest(id, b.reason);
          break;
        case "pending":
          await tracker.retryRequest(id);
          break;
      }
      // Null only if the request was purged meanwhile: then it no longer exists (404).
      const changed = await tracker.getRequest(id);
      if (!changed) throw new NotFoundError(id);
      return changed;
    },
  );

  app.post(
    "/requests/:id/stages/:name/:action",
    {
      config: writer,
      schema: {
        params: stageParams.extend({ action: z.enum(["start", "complete", "fail"]) }),
        body: stageBody,
        response: { 204: noContent, ...errors(...BODY_ERRORS, 403, 404, 409) },
        operationId: "changeStage",
        tags: ["stages"],
      },
    },
    async (request, reply) => {
      const { id, name, action } = request.params;
      await visibleScope(tracker, request.principal, id);
      const body = request.body ?? {};
      if (action === "start") await tracker.startStage(id, name);
      else if (action === "complete") await tracker.completeStage(id, name, body.output);
      else {
        await tracker.failStage(id, name, {
          message: body.message ?? "failed",
          ...(body.details !== undefined ? { details: body.details } : {}),
          ...(body.retryable !== undefined ? { retryable: body.retryable } : {}),
        });
      }
      return reply.status(204).send();
    },
  );

  app.get(
    "/requests/:id/events",
    {
      config: viewer,
      schema: {
        operationId: "listEvents",
        params: idParams,
        response: { 200: eventListSchema, ...errors(400, 404) },
        tags: ["events"],
      },
    },
    async (request) => {
      await visibleScope(tracker, request.principal, request.params.id);
      return { items: await tracker.getEvents(request.params.id) };
    },
  );

  app.post(
    "/requests/:id/events",
    {
      config: writer,
      schema: {
        operationId: "logEvent",
        params: idParams,
        body: logEventSchema,
        response: { 201: createdNoBody, ...errors(...BODY_ERRORS, 403, 404) },
        tags: ["events"],
      },
    },
    async (request, reply) => {
      await visibleScope(tracker, request.principal, request.params.id);
      await tracker.logEvent(request.params.id, request.body);
      return reply.status(201).send();
    },
  );

  app.post(
    "/requests/:id/costs",
    {
      config: writer,
      schema: {
        operationId: "recordCost",
        params: idParams,
        body: recordCostSchema,
        response: { 201: createdNoBody, ...errors(...BODY_ERRORS, 403, 404) },
        tags: ["costs"],
      },
    },
    async (request, reply) => {
      await visibleScope(tracker, request.principal, request.params.id);
      await tracker.recordCost(request.params.id, request.body);
      return reply.status(201).send();
    },
  );
};
