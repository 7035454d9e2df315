import { z } from "zod";

/**
 * Cost budgets: a spend limit for a scope over a period, with thresholds that alert once per
 * period and, in `enforce` mode, refuse new requests in the scope once it is spent.
 */
export const BUDGET_PERIODS = ["day", "week", "month"] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];
export const BUDGET_MODES = ["alert", "enforce"] as const;
export type BudgetMode = (typeof BUDGET_MODES)[number];

/** Whose spend a budget counts. A field left null counts every value of it. */
export interface BudgetScope {
  /** Null: all tenants (only admins may set such a budget over HTTP). */
  tenantId: string | null;
  userId: string | null;
  sessionId: string | null;
  kind: string | null;
  /** Only costs of this service (e.g. "openai"). */
  service: string | null;
}

export interface Budget {
  id: string;
  name: string;
  scope: BudgetScope;
  period: BudgetPeriod;
  /** false: the calendar day, ISO week or month in UTC; true: the last 24 h, 7 d or 30 d. */
  rolling: boolean;
  amountMicros: number;
  /** Percentages of the amount, ascending; each alerts once per period. */
  thresholds: number[];
  mode: BudgetMode;
  /** POSTed a JSON alert when a threshold is crossed (retried with backoff). */
  webhookUrl: string | null;
  createdAt: number;
  updatedAt: number;
}

export const DEFAULT_THRESHOLDS = [50, 80, 100];

const name = z
  .string()
  .min(1, "must not be empty")
  .max(256, "at most 256 characters")
  .refine((s) => !s.includes("\u0000"), "must not contain NUL (\\u0000) characters");

const usd = z
  .number({ error: "must be a number of USD" })
  .finite("must be a finite number")
  .positive("must be more than 0")
  .max(1_000_000_000, "at most 1,000,000,000 USD");

const thresholds = z
  .array(
    z
      .number({ error: "must be a number" })
      .int("must be a whole percentage")
      .min(1, "must be at least 1 (%)")
      .max(1000, "must be at most 1000 (%)"),
  )
  .min(1, "must list at least one threshold")
  .max(20, "at most 20 thresholds");

const webhook = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .max(2048, "at most 2048 characters");

const scopeFields = {
  tenantId: name.nullable().optional(),
  userId: name.optional(),
  sessionId: name.optional(),
  kind: name.optional(),
  service: name.optional(),
};

/** What `tracker.budgets.create()` (and `POST /api/v1/budgets`) accepts. */
export const budgetInputSchema = z.strictObject({
  name: name.optional(),
  ...scopeFields,
  period: z.enum(BUDGET_PERIODS, { error: "must be day, week or month" }),
  rolling: z.boolean().optional(),
  amountUsd: usd,
  thresholds: thresholds.optional(),
  mode: z.enum(BUDGET_MODES, { error: "must be alert or enforce" }).optional(),
  webhookUrl: webhook.nullable().optional(),
});
export type BudgetInput = z.input<typeof budgetInputSchema>;

/** What `tracker.budgets.update()` accepts: any of the settings; the scope stays. */
export const budgetPatchSchema = z.strictObject({
  name: name.optional(),
  period: z.enum(BUDGET_PERIODS, { error: "must be day, week or month" }).optional(),
  rolling: z.boolean().optional(),
  amountUsd: usd.optional(),
  thresholds: thresholds.optional(),
  mode: z.enum(BUDGET_MODES, { error: "must be alert or enforce" }).optional(),
  webhookUrl: webhook.nullable().optional(),
});
export type BudgetPatch = z.input<typeof budgetPatchSchema>;

/** Whether a request of these dimensions is inside a budget's scope (service aside). */
export function inBudgetScope(
  scope: BudgetScope,
  request: {
    tenantId: string | null;
    userId: string | null;
    sessionId: string | null;
    kind: string | null;
  },
): boolean {
  return (
    (scope.tenantId === null || scope.tenantId === request.tenantId) &&
    (scope.userId === null || scope.userId === request.userId) &&
    (scope.sessionId === null || scope.sessionId === request.sessionId) &&
    (scope.kind === null || scope.kind === request.kind)
  );
}
