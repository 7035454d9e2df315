import { z } from "zod";
import { BUDGET_MODES, BUDGET_PERIODS } from "../core/budgets.js";
import { component } from "./openapi-schemas.js";

/**
 * The OpenAPI components of the budget routes (as `openapi-schemas.ts` describes the rest:
 * times are `Date`s here, ISO-8601 on the wire).
 */
const date = z.date();

export const budgetSchema = component(
  "Budget",
  "A spend limit for a scope over a period.",
  z.object({
    id: z.string(),
    name: z.string(),
    scope: z.object({
      tenantId: z.string().nullable(),
      userId: z.string().nullable(),
      sessionId: z.string().nullable(),
      kind: z.string().nullable(),
      service: z.string().nullable(),
    }),
    period: z.enum(BUDGET_PERIODS),
    rolling: z.boolean(),
    amountMicros: z.number().int(),
    thresholds: z.array(z.number()),
    mode: z.enum(BUDGET_MODES),
    webhookUrl: z.string().nullable(),
    /** Epoch milliseconds, as stored. */
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  }),
);

export const budgetListSchema = z.object({ items: z.array(budgetSchema) });

export const budgetStatusSchema = component(
  "BudgetStatus",
  "Where a budget stands in its current period.",
  z.object({
    budget: budgetSchema,
    periodStart: date,
    periodEnd: date,
    limitUsd: z.number(),
    spentUsd: z.number(),
    reservedUsd: z.number(),
    remainingUsd: z.number(),
    percent: z.number(),
    projectedUsd: z.number(),
    exceeded: z.boolean(),
    alerted: z.array(z.number()),
  }),
);
