import { calendarNext, calendarStart } from "../analytics/buckets.js";
import {
  type Budget,
  type BudgetInput,
  budgetInputSchema,
  type BudgetPatch,
  budgetPatchSchema,
  DEFAULT_THRESHOLDS,
} from "../core/budgets.js";
import { parse } from "../core/schemas.js";

// What a budget is and how it stands, without I/O: its period, the figures an evaluation
// keeps, its status and alert shapes, and a budget built from input.

const DAY = 86_400_000;
const ROLLING_MS = { day: DAY, week: 7 * DAY, month: 30 * DAY } as const;
export const micros = (usd: number) => Math.round(usd * 1_000_000);
export const usd = (m: number) => m / 1_000_000;

/** The period a budget counts at `now`: [from, to), and a key naming it for alert records. */
export function budgetWindow(
  budget: Pick<Budget, "period" | "rolling">,
  now: number,
): { from: number; to: number; key: string } {
  if (budget.rolling) {
    // Through `now` itself: a cost recorded this millisecond counts.
    return { from: now + 1 - ROLLING_MS[budget.period], to: now + 1, key: "rolling" };
  }
  const from = calendarStart(now, budget.period);
  return { from, to: calendarNext(from, budget.period), key: new Date(from).toISOString() };
}

/** Where a budget stands: what `GET /api/v1/budgets/:id/status` answers. */
export interface BudgetStatus {
  budget: Budget;
  periodStart: Date;
  periodEnd: Date;
  limitUsd: number;
  spentUsd: number;
  /** Estimates held for requests in the scope still pending or running, less what they spent. */
  reservedUsd: number;
  remainingUsd: number;
  /** Spent as a percentage of the limit. */
  percent: number;
  /** Spend at the period's end at the pace so far (calendar periods; rolling: the spend). */
  projectedUsd: number;
  exceeded: boolean;
  /** Thresholds that alerted in this period. */
  alerted: number[];
}

/** A threshold crossed: what the live stream, the log, the webhook and `subscribe()` get. */
export interface BudgetAlert {
  budgetId: string;
  name: string;
  threshold: number;
  tenantId: string | null;
  limitUsd: number;
  spentUsd: number;
  percent: number;
  periodStart: string;
  periodEnd: string;
  mode: Budget["mode"];
}

/** A budget as the last evaluation left it: what the create-time check reads. */
export interface EvaluatedBudget {
  budget: Budget;
  /**
   * Spend as the create-time check counts it: the store's figure plus this tracker's costs
   * since, where a cost committed while the store was read may count twice for a moment
   * (refusing early beats letting spend run past the limit).
   */
  spentMicros: number;
  /** The store's figure at the evaluation, which counts each cost once: what alerts report. */
  storedMicros: number;
  /** Estimates held for unfinished requests in the scope (see `Budgets.check`). */
  reservedMicros: number;
  window: { from: number; to: number; key: string };
  alerted: Set<number>;
}

/** A new budget from `input` (validated; `ValidationError` names the field). */
export function newBudget(input: BudgetInput, id: string, now: number): Budget {
  const b = parse(budgetInputSchema, input, "budget");
  return {
    id,
    name: b.name ?? `${b.tenantId ?? "all tenants"} ${b.period}`,
    scope: {
      tenantId: b.tenantId ?? null,
      userId: b.userId ?? null,
      sessionId: b.sessionId ?? null,
      kind: b.kind ?? null,
      service: b.service ?? null,
    },
    period: b.period,
    rolling: b.rolling ?? false,
    amountMicros: micros(b.amountUsd),
    thresholds: normalizeThresholds(b.thresholds ?? DEFAULT_THRESHOLDS),
    mode: b.mode ?? "alert",
    webhookUrl: b.webhookUrl ?? null,
    createdAt: now,
    updatedAt: now,
  };
}

/** `current` with the settings `patch` changes (never its scope). */
export function patchedBudget(current: Budget, patch: BudgetPatch, now: number): Budget {
  const p = parse(budgetPatchSchema, patch, "budget");
  return {
    ...current,
    ...(p.name !== undefined ? { name: p.name } : {}),
    ...(p.period !== undefined ? { period: p.period } : {}),
    ...(p.rolling !== undefined ? { rolling: p.rolling } : {}),
    ...(p.amountUsd !== undefined ? { amountMicros: micros(p.amountUsd) } : {}),
    ...(p.thresholds !== undefined ? { thresholds: normalizeThresholds(p.thresholds) } : {}),
    ...(p.mode !== undefined ? { mode: p.mode } : {}),
    ...(p.webhookUrl !== undefined ? { webhookUrl: p.webhookUrl } : {}),
    updatedAt: now,
  };
}

function normalizeThresholds(thresholds: readonly number[]): number[] {
  return [...new Set(thresholds)].sort((a, b) => a - b);
}

export function percentOf(spent: number, limit: number): number {
  return Math.round((spent / limit) * 10_000) / 100;
}
