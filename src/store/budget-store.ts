import type { Budget, BudgetScope } from "../core/budgets.js";

/**
 * Budgets and their alert bookkeeping, kept by the store so that every server sharing it
 * sees the same budgets and a threshold alerts once per period however many servers watch.
 */
export interface BudgetStore {
  /** Inserts or replaces a budget by id. */
  saveBudget(budget: Budget): Promise<void>;
  listBudgets(): Promise<Budget[]>;
  /** True when a budget was deleted (with its alert records). */
  deleteBudget(id: string): Promise<boolean>;
  /**
   * Micro-USD of every cost recorded in [from, to) on requests in `scope` (and of its service,
   * when it names one), soft-deleted requests included.
   */
  budgetSpend(scope: BudgetScope, from: number, to: number): Promise<number>;
  /**
   * Micro-USD held back for requests in `scope` (its service aside: an estimate is not per
   * service) that are pending or running: each one's `estimatedCostUsd` less what it has
   * recorded so far, never below 0.
   */
  budgetReserved(scope: BudgetScope): Promise<number>;
  /**
   * Records that `threshold` of budget `id` alerted in the period `periodKey`. True only for
   * the one call that recorded it: that caller sends the alert.
   */
  claimAlert(id: string, periodKey: string, threshold: number, at: number): Promise<boolean>;
  /** Forgets alerts of `periodKey` above `percent`, so they fire again when crossed again. */
  rearmAlerts(id: string, periodKey: string, percent: number): Promise<void>;
}

/** The WHERE clause of a spend query, with `?`-style placeholders, and its values. */
export function spendFilter(
  scope: BudgetScope,
  placeholder: (index: number) => string,
): { where: string; values: (string | number)[] } {
  const parts: string[] = [];
  const values: (string | number)[] = [];
  const add = (sql: string, value: string | null) => {
    if (value === null) return;
    values.push(value);
    parts.push(`${sql} = ${placeholder(values.length + 2)}`);
  };
  add("r.tenant_id", scope.tenantId);
  add("r.user_id", scope.userId);
  add("r.session_id", scope.sessionId);
  add("r.kind", scope.kind);
  add("c.service", scope.service);
  return { where: parts.map((p) => ` AND ${p}`).join(""), values };
}

/** Columns of the budgets table, as both drivers store them. */
export interface BudgetRow {
  id: string;
  name: string;
  tenant_id: string | null;
  user_id: string | null;
  session_id: string | null;
  kind: string | null;
  service: string | null;
  period: string;
  rolling: number | boolean;
  amount_micros: number | string;
  thresholds: string;
  mode: string;
  webhook_url: string | null;
  created_at: number | string;
  updated_at: number | string;
}

export function toBudgetRow(b: Budget): BudgetRow {
  return {
    id: b.id,
    name: b.name,
    tenant_id: b.scope.tenantId,
    user_id: b.scope.userId,
    session_id: b.scope.sessionId,
    kind: b.scope.kind,
    service: b.scope.service,
    period: b.period,
    rolling: b.rolling ? 1 : 0,
    amount_micros: b.amountMicros,
    thresholds: JSON.stringify(b.thresholds),
    mode: b.mode,
    webhook_url: b.webhookUrl,
    created_at: b.createdAt,
    updated_at: b.updatedAt,
  };
}

export function fromBudgetRow(row: BudgetRow): Budget {
  return {
    id: row.id,
    name: row.name,
    scope: {
      tenantId: row.tenant_id,
      userId: row.user_id,
      sessionId: row.session_id,
      kind: row.kind,
      service: row.service,
    },
    period: row.period as Budget["period"],
    rolling: row.rolling === true || row.rolling === 1,
    amountMicros: Number(row.amount_micros),
    thresholds: JSON.parse(row.thresholds) as number[],
    mode: row.mode as Budget["mode"],
    webhookUrl: row.webhook_url,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export const BUDGET_COLUMNS = [
  "id",
  "name",
  "tenant_id",
  "user_id",
  "session_id",
  "kind",
  "service",
  "period",
  "rolling",
  "amount_micros",
  "thresholds",
  "mode",
  "webhook_url",
  "created_at",
  "updated_at",
] as const;
