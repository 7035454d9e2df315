import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { type Budget, budgetInputSchema, budgetPatchSchema } from "../../core/budgets.js";
import { budgetNotFound, ForbiddenError } from "../../core/errors.js";
import type { Tracker } from "../../tracker/tracker.js";
import type { Principal } from "../auth.js";
import { BODY_ERRORS, errors, noContent } from "../openapi.js";
import { budgetListSchema, budgetSchema, budgetStatusSchema } from "../budget-schemas.js";

const budgetParams = z.object({ id: z.string().min(1).max(128) });

/** /api/v1/budgets: cost budgets. A tenant key sees and manages only its own tenant's. */
export const budgetRoutes: FastifyPluginAsyncZod<{ tracker: Tracker }> = async (
  app,
  { tracker },
) => {
  const writer = { role: "writer" as const };
  const viewer = { role: "viewer" as const };

  /** The budget, if the caller may see it: another tenant's (or an all-tenant one) is a 404. */
  const visible = async (principal: Principal, id: string): Promise<Budget> => {
    const budget = await tracker.budgets.get(id);
    if (!budget || (principal.tenantId !== null && budget.scope.tenantId !== principal.tenantId)) {
      throw budgetNotFound(id);
    }
    return budget;
  };

  app.post(
    "/budgets",
    {
      config: writer,
      schema: {
        operationId: "createBudget",
        body: budgetInputSchema,
        response: { 201: budgetSchema, ...errors(...BODY_ERRORS, 403) },
        tags: ["budgets"],
      },
    },
    async (request, reply) => {
      const own = request.principal.tenantId;
      const body = request.body;
      if (own !== null) {
        if (body.tenantId === null) {
          throw new ForbiddenError("Only an admin key may set a budget for all tenants");
        }
        if (body.tenantId !== undefined && body.tenantId !== own) {
          throw new ForbiddenError(`This API key is confined to tenant ${own}`);
        }
      }
      const budget = await tracker.budgets.create({
        ...body,
        ...(own !== null ? { tenantId: own } : {}),
      });
      return reply.status(201).send(budget);
    },
  );

  app.get(
    "/budgets",
    {
      config: viewer,
      schema: {
        operationId: "listBudgets",
        response: { 200: budgetListSchema, ...errors() },
        tags: ["budgets"],
      },
    },
    async (request) => {
      const own = request.principal.tenantId;
      return { items: await tracker.budgets.list(own !== null ? { tenantId: own } : {}) };
    },
  );

  app.get(
    "/budgets/:id",
    {
      config: viewer,
      schema: {
        operationId: "getBudget",
        params: budgetParams,
        response: { 200: budgetSchema, ...errors(400, 404) },
        tags: ["budgets"],
      },
    },
    async (request) => visible(request.principal, request.params.id),
  );

  app.get(
    "/budgets/:id/status",
    {
      config: viewer,
      schema: {
        operationId: "budgetStatus",
        params: budgetParams,
        response: { 200: budgetStatusSchema, ...errors(400, 404) },
        tags: ["budgets"],
      },
    },
    async (request) => {
      await visible(request.principal, request.params.id);
      return tracker.budgets.status(request.params.id);
    },
  );

  app.patch(
    "/budgets/:id",
    {
      config: writer,
      schema: {
        operationId: "updateBudget",
        params: budgetParams,
        body: budgetPatchSchema,
        response: { 200: budgetSchema, ...errors(...BODY_ERRORS, 403, 404) },
        tags: ["budgets"],
      },
    },
    async (request) => {
      await visible(request.principal, request.params.id);
      return tracker.budgets.update(request.params.id, request.body);
    },
  );

  app.delete(
    "/budgets/:id",
    {
      config: writer,
      schema: {
        operationId: "deleteBudget",
        params: budgetParams,
        response: { 204: noContent, ...errors(...BODY_ERRORS, 403, 404) },
        tags: ["budgets"],
      },
    },
    async (request, reply) => {
      await visible(request.principal, request.params.id);
      await tracker.budgets.delete(request.params.id);
      return reply.status(204).send();
    },
  );
};
