import type { JsonValue } from "../core/types.js";
import type { Logger } from "../context/logger.js";
import type { Store } from "../store/store.js";
import { type BudgetAlert, type EvaluatedBudget, percentOf, usd } from "./budget-figures.js";

/** What alerting needs of the tracker (the budgets' host has it all). */
export interface AlertHost {
  store: Store;
  logger: Logger;
  /** Sends an alert on the live stream (and to the log at warn). */
  alert: (alert: {
    name: string;
    message: string;
    tenantId: string | null;
    data: JsonValue;
  }) => void;
  /** Webhook delivery: tries and the first pause (doubled each time). */
  webhookTries?: number;
  webhookBackoffMs?: number;
}

/** Budget threshold alerts: on the live stream and the log, and to a budget's webhook. */
export class BudgetAlerts {
  private readonly webhooks = new Set<Promise<void>>();

  constructor(private readonly host: AlertHost) {}

  /** Resolves when every webhook delivery under way has succeeded or given up. */
  async settled(): Promise<void> {
    await Promise.all(this.webhooks);
  }

  /**
   * Sends the alerts of the thresholds `entry` newly crossed (one server, once per period),
   * judged on the store's figure: a cost counted twice must not fire an alert that no
   * later figure would take back. One still in flight is in the next evaluation's figure.
   */
  async fire(entry: EvaluatedBudget, now: number): Promise<void> {
    const { budget, window, storedMicros: spentMicros } = entry;
    const percent = percentOf(spentMicros, budget.amountMicros);
    if (budget.rolling) {
      // A rolling window has no end to reset it: a threshold alerts again once spend has
      // fallen back under it and crosses it anew.
      await this.host.store.budgets.rearmAlerts(budget.id, window.key, percent);
      for (const t of entry.alerted) if (t > percent) entry.alerted.delete(t);
    }
    for (const threshold of budget.thresholds) {
      if (percent < threshold || entry.alerted.has(threshold)) continue;
      entry.alerted.add(threshold);
      // The store says who sends it: one server, once per period.
      if (!(await this.host.store.budgets.claimAlert(budget.id, window.key, threshold, now))) {
        continue;
      }
      const alert: BudgetAlert = {
        budgetId: budget.id,
        name: budget.name,
        threshold,
        tenantId: budget.scope.tenantId,
        limitUsd: usd(budget.amountMicros),
        spentUsd: usd(spentMicros),
        percent,
        periodStart: new Date(window.from).toISOString(),
        periodEnd: new Date(window.to).toISOString(),
        mode: budget.mode,
      };
      this.host.alert({
        name: "budget_threshold",
        message: `Budget "${budget.name}" reached ${threshold}% (${alert.spentUsd.toFixed(2)} of ${alert.limitUsd.toFixed(2)} USD)`,
        tenantId: budget.scope.tenantId,
        data: { ...alert },
      });
      if (budget.webhookUrl) this.deliver(budget.webhookUrl, alert);
    }
  }

  /** POSTs the alert, retrying with backoff; never awaited by a write. */
  private deliver(url: string, alert: BudgetAlert): void {
    const tries = this.host.webhookTries ?? 5;
    const backoff = this.host.webhookBackoffMs ?? 1000;
    const body = JSON.stringify({ type: "budget_threshold", ...alert });
    const sending = (async () => {
      for (let attempt = 1; attempt <= tries; attempt++) {
        try {
          const response = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
            signal: AbortSignal.timeout(10_000),
          });
          if (response.ok) return;
          this.host.logger.warn(
            { budget_id: alert.budgetId, status: response.status, attempt },
            "Budget webhook answered an error",
          );
        } catch (error) {
          this.host.logger.warn(
            { budget_id: alert.budgetId, err: error, attempt },
            "Budget webhook could not be reached",
          );
        }
        if (attempt < tries) {
          await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)).unref());
        }
      }
      this.host.logger.error({ budget_id: alert.budgetId, tries }, "Budget webhook gave up");
    })();
    this.webhooks.add(sending);
    void sending.finally(() => this.webhooks.delete(sending));
  }
}
