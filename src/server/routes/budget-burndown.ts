import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { type BudgetPeriod } from "../../core/budgets.js";
import { budgetNotFound } from "../../core/errors.js";
import type { Tracker } from "../../tracker/tracker.js";
import { errors } from "../openapi.js";

const HOUR = 3_600_000;
/** One point per hour of a day, per 6 hours of a week, per day of a month. */
export const BURNDOWN_STEP_MS: Record<BudgetPeriod, number> = {
  day: HOUR,
  week: 6 * HOUR,
  month: 24 * HOUR,
};

/** The answer of GET /api/v1/budgets/:id/burndown. */
export const burndownSchema = z.object({
  budgetId: z.string(),
  periodStart: z.string(),
  periodEnd: z.string(),
  at: z.string(),
  limitUsd: z.number(),
  spentUsd: z.number(),
  reservedUsd: z.number(),
  /** The spend at the period's end at the pace so far; null for a rolling window. */
  projectedUsd: z.number().nullable(),
  /** Spend so far at the end of each step of the period, up to now. */
  points: z.array(z.object({ at: z.string(), spentUsd: z.number() })),
});

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * GET /api/v1/budgets/:id/burndown: how a budget's period was spent, step by step, and where
 * it ends at the pace so far: what the dashboard's burn-down chart draws. Its last point is
 * the status's `spentUsd` (the same costs, summed over contiguous steps of the same window).
 * Visible like the budget itself: another tenant's is a 404.
 */
export const budgetBurndownRoutes: FastifyPluginAsyncZod<{
  tracker: Tracker;
  clock?: () => number;
}> = async (app, { tracker, clock = Date.now }) => {
  app.get(
    "/budgets/:id/burndown",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "getBudgetBurndown",
        params: z.object({ id: z.string().min(1).max(128) }),
        response: { 200: burndownSchema, ...errors(400, 404) },
        tags: ["budgets"],
      },
    },
    async (request) => {
      const { id } = request.params;
      const own = request.principal.tenantId;
      const budget = await tracker.budgets.get(id);
      if (!budget || (own !== null && budget.scope.tenantId !== own)) {
        throw budgetNotFound(id);
      }
      await tracker.flush();
      const status = await tracker.budgets.status(id);
      const from = status.periodStart.getTime();
      const to = status.periodEnd.getTime();
      const now = Math.max(from, Math.min(clock(), to));
      const step = BURNDOWN_STEP_MS[budget.period];
      const points: { at: string; spentUsd: number }[] = [];
      let spentMicros = 0;
      for (let start = from; start < to && start <= now; start += step) {
        // The last step runs to the window's end, so the sum covers what the status counts.
        const end = start + step >= now ? to : start + step;
        spentMicros += await tracker.store.budgets.budgetSpend(budget.scope, start, end);
        points.push({ at: iso(Math.min(end, now)), spentUsd: spentMicros / 1_000_000 });
        if (end === to) break;
      }
      return {
        budgetId: id,
        periodStart: iso(from),
        periodEnd: iso(to),
        at: iso(now),
        limitUsd: status.limitUsd,
        spentUsd: status.spentUsd,
        reservedUsd: status.reservedUsd,
        projectedUsd: budget.rolling ? null : status.projectedUsd,
        points,
      };
    },
  );
};
