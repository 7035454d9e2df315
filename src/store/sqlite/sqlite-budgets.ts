import type Database from "better-sqlite3";
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
import { prepared } from "./prepared.js";

/** Budgets on SQLite. Writes are single statements, so they never hold the lock for long. */
export class SqliteBudgets implements BudgetStore {
  private readonly upsert: Database.Statement;
  private readonly spendStatements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly write: <T>(fn: () => T) => Promise<T>,
  ) {
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO budgets (${BUDGET_COLUMNS.join(", ")})
      VALUES (${BUDGET_COLUMNS.map((c) => `@${c}`).join(", ")})`,
    );
  }

  async saveBudget(budget: Budget): Promise<void> {
    await this.write(() => this.upsert.run(toBudgetRow(budget)));
  }

  async listBudgets(): Promise<Budget[]> {
    const rows = prepared(this.db, "SELECT * FROM budgets ORDER BY created_at, id").all();
    return (rows as BudgetRow[]).map(fromBudgetRow);
  }

  async deleteBudget(id: string): Promise<boolean> {
    return this.write(() =>
      this.db.transaction(() => {
        this.db.prepare("DELETE FROM budget_alerts WHERE budget_id = ?").run(id);
        return this.db.prepare("DELETE FROM budgets WHERE id = ?").run(id).changes === 1;
      })(),
    );
  }

  async budgetSpend(scope: BudgetScope, from: number, to: number): Promise<number> {
    // Whole days from rollup_spend, partial days from the rows (budget-spend.ts).
    const plan = spendPlan(scope, from, to);
    let spent = 0;
    if (plan.rollup) {
      const service = scope.service !== null ? "AND service = @service" : "";
      spent += prepared(
        this.db,
        `SELECT coalesce(sum(cost_micros), 0) FROM rollup_spend WHERE level = @level
        AND tenant = @tenant AND kind = @kind AND bucket >= @from AND bucket < @to ${service}`,
      )
        .pluck()
        .get({ ...plan.rollup, ...(service ? { service: scope.service } : {}) }) as number;
    }
    const { where, values } = spendFilter(scope, () => "?");
    const rows = prepared(
      this.db,
      `SELECT coalesce(sum(c.amount_micros), 0) FROM costs c
      JOIN requests r ON r.id = c.request_id WHERE c.ts >= ? AND c.ts < ?${where}`,
    ).pluck();
    for (const range of plan.rows) spent += rows.get(range.from, range.to, ...values) as number;
    return spent;
  }

  async budgetReserved(scope: BudgetScope): Promise<number> {
    const { where, values } = spendFilter({ ...scope, service: null }, () => "?");
    const sql = `SELECT coalesce(sum(max(0, r.estimated_cost_micros - r.cost_micros)), 0)
      FROM requests r WHERE r.estimated_cost_micros IS NOT NULL
      AND r.status IN ('pending', 'running')${where}`;
    let statement = this.spendStatements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql).pluck();
      this.spendStatements.set(sql, statement);
    }
    return statement.get(...values) as number;
  }

  async claimAlert(id: string, periodKey: string, threshold: number, at: number): Promise<boolean> {
    const insert = this.db.prepare(
      `INSERT INTO budget_alerts (budget_id, period_key, threshold, fired_at) VALUES (?, ?, ?, ?)
      ON CONFLICT DO NOTHING`,
    );
    return (await this.write(() => insert.run(id, periodKey, threshold, at))).changes === 1;
  }

  async rearmAlerts(id: string, periodKey: string, percent: number): Promise<void> {
    const remove = this.db.prepare(
      "DELETE FROM budget_alerts WHERE budget_id = ? AND period_key = ? AND threshold > ?",
    );
    await this.write(() => remove.run(id, periodKey, percent));
  }
}
