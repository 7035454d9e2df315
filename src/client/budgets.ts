import {
  type Budget,
  type BudgetInput,
  type BudgetPatch,
  budgetInputSchema,
  budgetPatchSchema,
} from "../core/budgets.js";
import { parse } from "../core/schemas.js";
import type { BudgetStatus } from "../tracker/budget-figures.js";
import type { HttpTransport } from "./http.js";

type Json = Record<string, unknown>;
const path = (id: string) => encodeURIComponent(id);

/**
 * Cost budgets on the server, in the library's shapes (`tracker.budgets`): create, list,
 * get, update, delete and status. A tenant key sees and manages only its tenant's budgets;
 * only an admin key sets an all-tenant one. Inputs are checked here as the library checks
 * them, so a mistake fails before any call.
 */
export class RemoteBudgets {
  constructor(private readonly http: HttpTransport) {}

  async create(input: BudgetInput): Promise<Budget> {
    const body = parse(budgetInputSchema, input, "budget");
    return (await this.http.call<Budget>(
      "POST",
      "/api/v1/budgets",
      JSON.stringify(body),
    )) as Budget;
  }

  /** The budgets the key may see. */
  async list(): Promise<Budget[]> {
    return (await this.http.call<{ items: Budget[] }>("GET", "/api/v1/budgets"))?.items ?? [];
  }

  /** Null when there is no budget of that id that the key may see. */
  async get(id: string): Promise<Budget | null> {
    return this.orNull(() => this.http.call<Budget>("GET", `/api/v1/budgets/${path(id)}`));
  }

  /** Changes a budget's settings (not its scope). */
  async update(id: string, patch: BudgetPatch): Promise<Budget> {
    const body = parse(budgetPatchSchema, patch, "patch");
    return (await this.http.call<Budget>(
      "PATCH",
      `/api/v1/budgets/${path(id)}`,
      JSON.stringify(body),
    )) as Budget;
  }

  /** False when there is no budget of that id that the key may see. */
  async delete(id: string): Promise<boolean> {
    const deleted = await this.orNull(async () => {
      await this.http.call("DELETE", `/api/v1/budgets/${path(id)}`);
      return true;
    });
    return deleted ?? false;
  }

  /** Spent, reserved, remaining and projected spend in the budget's current period. */
  async status(id: string): Promise<BudgetStatus> {
    const raw = (await this.http.call<Json>("GET", `/api/v1/budgets/${path(id)}/status`)) as Json;
    return {
      ...raw,
      periodStart: new Date(raw.periodStart as string),
      periodEnd: new Date(raw.periodEnd as string),
    } as BudgetStatus;
  }

  private async orNull<T>(call: () => Promise<T | null>): Promise<T | null> {
    try {
      return await call();
    } catch (error) {
      if ((error as { code?: string }).code === "RT_ERR_NOT_FOUND") return null;
      throw error;
    }
  }
}
