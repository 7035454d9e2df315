import type { Budget, BudgetScope } from "../../core/budgets.js";
import {
  BUDGET_COLUMNS,
  type BudgetRow,
  type BudgetStore,
  fromBudgetRow,
  spendFilter,
  toBudgetRow,
} from "../budget-store.js";
import { spendPlan } from "../budget-spend.js";
import type { Sql } from "./pg-connection.js";

const UPSERT = `INSERT INTO budgets (${BUDGET_COLUMNS.join(", ")})
  VALUES (${BUDGET_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})
  ON CONFLICT (id) DO UPDATE SET ${BUDGET_COLUMNS.filter((c) => c !== "id")
    .map((c) => `${c} = excluded.${c}`)
    .join(", ")}`;

/** Budgets on PostgreSQL; the alert claim is one INSERT, so servers racing for it cannot both win. */
export class PostgresBudgets implements BudgetStore {
  constructor(private readonly sql: Sql) {}

  async saveBudget(budget: Budget): Promise<void> {
    const row = toBudgetRow(budget);
    await this.sql.run(UPSERT, [
      ...BUDGET_COLUMNS.map((c) => (c === "rolling" ? row.rolling === 1 : row[c])),
    ]);
  }

  async listBudgets(): Promise<Budget[]> {
    const rows = await this.sql.rows<BudgetRow>("SELECT * FROM budgets ORDER BY created_at, id");
    return rows.map(fromBudgetRow);
  }

  async deleteBudget(id: string): Promise<boolean> {
    const rows = await this.sql.rows<{ id: string }>(
      `WITH gone AS (DELETE FROM budget_alerts WHERE budget_id = $1)
      DELETE FROM budgets WHERE id = $1 RETURNING id`,
      [id],
    );
    return rows.length === 1;
  }

  async budgetSpend(scope: BudgetScope, from: number, to: number): Promise<number> {
    // Whole days from rollup_spend, partial days from the rows (budget-spend.ts).
    const plan = spendPlan(scope, from, to);
    let spent = 0;
    if (plan.rollup) {
      const r = plan.rollup;
      const service = scope.service !== null ? "AND service = $6" : "";
      const row = await this.sql.row<{ spent: string }>(
        `SELECT coalesce(sum(cost_micros), 0)::text AS spent FROM rollup_spend
        WHERE level = $1 AND tenant = $2 AND kind = $3 AND bucket >= $4 AND bucket < $5 ${service}`,
        [r.level, r.tenant, r.kind, r.from, r.to, ...(service ? [scope.service] : [])],
      );
      spent += Number(row?.spent ?? 0);
    }
    const { where, values } = spendFilter(scope, (i) => `$${i}`);
    for (const range of plan.rows) {
      const row = await this.sql.row<{ spent: string }>(
        `SELECT coalesce(sum(c.amount_micros), 0)::text AS spent FROM costs c
        JOIN requests r ON r.id = c.request_id WHERE c.ts >= $1 AND c.ts < $2${where}`,
        [range.from, range.to, ...values],
      );
      spent += Number(row?.spent ?? 0);
    }
    return spent;
  }

  async budgetReserved(scope: BudgetScope): Promise<number> {
    // spendFilter numbers its values after the two times a spend query has first.
    const { where, values } = spendFilter({ ...scope, service: null }, (i) => `$${i - 2}`);
    const row = await this.sql.row<{ reserved: string }>(
      `SELECT coalesce(sum(greatest(0, r.estimated_cost_micros - r.cost_micros)), 0)::text
      AS reserved FROM requests r WHERE r.estimated_cost_micros IS NOT NULL
      AND r.status IN ('pending', 'running')${where}`,
      values,
    );
    return Number(row?.reserved ?? 0);
  }

  async claimAlert(id: string, periodKey: string, threshold: number, at: number): Promise<boolean> {
    const changed = await this.sql.run(
      `INSERT INTO budget_alerts (budget_id, period_key, threshold, fired_at)
      VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [id, periodKey, threshold, at],
    );
    return changed === 1;
  }

  async rearmAlerts(id: string, periodKey: string, percent: number): Promise<void> {
    await this.sql.run(
      "DELETE FROM budget_alerts WHERE budget_id = $1 AND period_key = $2 AND threshold > $3",
      [id, periodKey, percent],
    );
  }
}
