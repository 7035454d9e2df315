import { randomUUID } from "node:crypto";
import { type Budget, type BudgetInput, type BudgetPatch, inBudgetScope } from "../core/budgets.js";
import { BudgetExceededError, budgetNotFound } from "../core/errors.js";
import type { NewRequest } from "../core/ops.js";
import { type AlertHost, BudgetAlerts } from "./budget-alerts.js";
import {
  budgetWindow,
  type BudgetStatus,
  type EvaluatedBudget,
  newBudget,
  patchedBudget,
  percentOf,
  usd,
} from "./budget-figures.js";

export type { BudgetAlert, BudgetStatus } from "./budget-figures.js";

/** What a budget's scope is matched against: who a request is for, and its kind. */
type RequestScope = Parameters<typeof inBudgetScope>[1];

/** How soon after local costs budgets are evaluated (and so how stale enforcement may be). */
const COST_EVALUATION_DELAY_MS = 100;
const MAX_KNOWN_SCOPES = 50_000;

export interface BudgetsHost extends AlertHost {
  clock: () => number;
  /** How often budgets are evaluated without local costs to prompt it; 0: only on demand. */
  intervalMs: number;
}

/**
 * `tracker.budgets`: cost budgets. Spend is read from the store, so every server sharing it
 * agrees; each evaluation (of every budget on a timer, and of the budgets they fall in right
 * after costs this tracker records) refreshes a cache that the create-time check reads
 * without any I/O. The check therefore sees spend as
 * of the last evaluation: a burst of concurrent creates can overshoot by what it spends before
 * the next one (docs/costs.md gives the measured worst case).
 */
export class Budgets {
  private cache = new Map<string, EvaluatedBudget>();
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  /** The entries of the evaluation under way, before they replace `cache`. */
  private building: Map<string, EvaluatedBudget> | null = null;
  /**
   * Micro-USD this tracker added to each budget, ever (it only grows): an evaluation adds what
   * arrived while it read the store, which its read may have missed. Counting a cost twice for
   * one evaluation refuses early for a moment; missing it would let spend run past the limit.
   */
  private readonly localSpend = new Map<string, number>();
  /** Scopes of requests created here, newest last (a bounded memory of them). */
  private readonly scopes = new Map<string, RequestScope>();
  /** Micro-USD this tracker reserved (+) and released (-) per budget, ever: as `localSpend`. */
  private readonly localReserved = new Map<string, number>();
  /** Estimates this tracker holds: per request, what is left of it and in which budgets. */
  private readonly holds = new Map<
    string,
    { remaining: number; budgetIds: string[]; committed: boolean }
  >();
  private running: Promise<void> | null = null;
  private again = false;
  /** The next evaluation reads every budget (and the budget list) from the store. */
  private wholeDue = false;
  /**
   * Budgets that costs recorded here fell in since the last evaluation: a cost-prompted
   * evaluation reads only these, so its price follows the budgets a cost touches, not how
   * many exist. The timer's evaluation reads them all (other servers' costs, budget edits).
   */
  private touched = new Set<string>();
  private readonly alerts: BudgetAlerts;

  constructor(private readonly host: BudgetsHost) {
    this.alerts = new BudgetAlerts(host);
  }

  /** Loads the budgets and starts the evaluation timer. */
  async start(): Promise<void> {
    await this.evaluate();
    if (this.host.intervalMs > 0) {
      this.timer = setInterval(() => void this.evaluate(), this.host.intervalMs);
      this.timer.unref();
    }
  }

  /** Stops the timer. Webhooks still retrying go on in the background (their timers are unref'd). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = null;
    this.soon = null;
    await this.running;
  }

  /** Resolves when every webhook delivery under way has succeeded or given up. */
  async settled(): Promise<void> {
    await this.running;
    await this.alerts.settled();
  }

  /**
   * Creates a budget. `tenantId` null (or left out) with no other scope is all tenants.
   *
   * @example
   * await tracker.budgets.create({ tenantId: "acme", period: "month", amountUsd: 500, mode: "enforce" });
   */
  async create(input: BudgetInput): Promise<Budget> {
    const budget = newBudget(input, `bud_${randomUUID()}`, this.host.clock());
    await this.host.store.budgets.saveBudget(budget);
    await this.evaluate();
    return budget;
  }

  /** Every budget, or those of one tenant (its own budgets; not the all-tenant ones). */
  async list(options: { tenantId?: string } = {}): Promise<Budget[]> {
    const all = await this.host.store.budgets.listBudgets();
    return options.tenantId === undefined
      ? all
      : all.filter((b) => b.scope.tenantId === options.tenantId);
  }

  async get(id: string): Promise<Budget | null> {
    return (await this.host.store.budgets.listBudgets()).find((b) => b.id === id) ?? null;
  }

  /** Changes a budget's settings (not its scope). */
  async update(id: string, patch: BudgetPatch): Promise<Budget> {
    const current = await this.get(id);
    if (!current) throw budgetNotFound(id);
    const budget = patchedBudget(current, patch, this.host.clock());
    await this.host.store.budgets.saveBudget(budget);
    await this.evaluate();
    return budget;
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.host.store.budgets.deleteBudget(id);
    this.cache.delete(id);
    return deleted;
  }

  /** Spent, remaining and projected spend of a budget in its current period. */
  async status(id: string): Promise<BudgetStatus> {
    const budget = await this.get(id);
    if (!budget) throw budgetNotFound(id);
    const now = this.host.clock();
    const window = budgetWindow(budget, now);
    const spent = await this.host.store.budgets.budgetSpend(budget.scope, window.from, window.to);
    const reserved = await this.host.store.budgets.budgetReserved(budget.scope);
    const elapsed = Math.max(1, Math.min(now, window.to) - window.from);
    const projected = budget.rolling ? spent : (spent * (window.to - window.from)) / elapsed;
    return {
      budget,
      periodStart: new Date(window.from),
      periodEnd: new Date(window.to),
      limitUsd: usd(budget.amountMicros),
      spentUsd: usd(spent),
      reservedUsd: usd(reserved),
      remainingUsd: usd(Math.max(0, budget.amountMicros - spent - reserved)),
      percent: percentOf(spent, budget.amountMicros),
      projectedUsd: usd(Math.round(projected)),
      exceeded: spent >= budget.amountMicros,
      alerted: [...(this.cache.get(id)?.alerted ?? [])].sort((a, b) => a - b),
    };
  }

  /**
   * Throws `BudgetExceededError` when an `enforce` budget covering this new request is spent,
   * counting the estimates held for unfinished requests, or when the request's own estimate
   * would take it past its limit. A request that passes has its estimate held at once in
   * every budget covering it, so concurrent creates see it. Synchronous and free of I/O: it
   * reads the last evaluation.
   */
  check(request: NewRequest): void {
    if (this.cache.size === 0) return;
    const now = this.host.clock();
    const estimate = request.estimatedCostMicros ?? 0;
    for (const entry of this.cache.values()) {
      const { budget } = entry;
      if (budget.mode !== "enforce") continue;
      const committed = entry.spentMicros + entry.reservedMicros;
      const over =
        committed >= budget.amountMicros ||
        (estimate > 0 && committed + estimate > budget.amountMicros);
      if (!over) continue;
      if (!inBudgetScope(budget.scope, request)) continue;
      // A period that ended since the last evaluation no longer counts.
      if (!budget.rolling && now >= entry.window.to) continue;
      const retryAt = budget.rolling ? now + 60_000 : entry.window.to;
      throw new BudgetExceededError({
        budgetId: budget.id,
        name: budget.name,
        limitUsd: usd(budget.amountMicros),
        spentUsd: usd(entry.spentMicros),
        periodEnd: new Date(entry.window.to).toISOString(),
        retryAfterSeconds: Math.max(1, Math.ceil((retryAt - now) / 1000)),
      });
    }
    if (estimate > 0) this.hold(request.id, request, estimate);
  }

  /** Holds `estimate` in every budget covering the request, until it ends or spends it. */
  private hold(id: string, scope: RequestScope, estimate: number): void {
    const budgetIds: string[] = [];
    for (const entry of this.cache.values()) {
      if (!inBudgetScope(entry.budget.scope, scope)) continue;
      budgetIds.push(entry.budget.id);
    }
    if (budgetIds.length === 0) return;
    this.holds.set(id, { remaining: 0, budgetIds, committed: false });
    this.moveReserved(id, estimate);
    if (this.holds.size > MAX_KNOWN_SCOPES) {
      const oldest = this.holds.keys().next().value;
      if (oldest !== undefined) this.holds.delete(oldest);
    }
  }

  /** Adds `micros` (negative: releases) to a held estimate and to its budgets' figures. */
  private moveReserved(id: string, micros: number): void {
    const held = this.holds.get(id);
    if (!held || micros === 0) return;
    held.remaining += micros;
    for (const budgetId of held.budgetIds) {
      const entry = this.cache.get(budgetId);
      if (entry) entry.reservedMicros = Math.max(0, entry.reservedMicros + micros);
      const fresh = this.building?.get(budgetId);
      if (fresh) fresh.reservedMicros = Math.max(0, fresh.reservedMicros + micros);
      this.localReserved.set(budgetId, (this.localReserved.get(budgetId) ?? 0) + micros);
    }
  }

  /**
   * The create of a request whose estimate `check` held did not insert it (refused, a
   * duplicate id, an error), or the request ended: its estimate is released.
   */
  release(requestId: string): void {
    const held = this.holds.get(requestId);
    if (!held) return;
    this.moveReserved(requestId, -held.remaining);
    this.holds.delete(requestId);
  }

  /** A request this tracker created: its scope is kept so that its costs count at once. */
  created(request: NewRequest): void {
    const held = this.holds.get(request.id);
    if (held) held.committed = true;
    if (this.cache.size === 0) return;
    this.scopes.set(request.id, {
      tenantId: request.tenantId,
      userId: request.userId,
      sessionId: request.sessionId,
      kind: request.kind,
    });
    if (this.scopes.size > MAX_KNOWN_SCOPES) {
      const oldest = this.scopes.keys().next().value;
      if (oldest !== undefined) this.scopes.delete(oldest);
    }
  }

  /**
   * A cost this tracker committed. When the request is one it created, the cost is added to
   * the cached spend of the budgets it falls in at once, so enforcement does not wait for the
   * next evaluation; that evaluation (at most COST_EVALUATION_DELAY_MS later, since costs
   * come in bursts) then reads the true figures back from the store.
   */
  costRecorded(cost: { requestId: string; service: string; amountMicros: number }): void {
    if (this.cache.size === 0) return;
    // Real cost replaces the estimate: what it spent is no longer held.
    const held = this.holds.get(cost.requestId);
    if (held) this.moveReserved(cost.requestId, -Math.min(held.remaining, cost.amountMicros));
    const scope = this.scopes.get(cost.requestId);
    if (scope) {
      for (const entry of this.cache.values()) {
        const { budget } = entry;
        if (budget.scope.service !== null && budget.scope.service !== cost.service) continue;
        if (!inBudgetScope(budget.scope, scope)) continue;
        this.touched.add(budget.id);
        entry.spentMicros += cost.amountMicros;
        // An evaluation under way may have read this budget already: its entry gets it too.
        const fresh = this.building?.get(budget.id);
        if (fresh) fresh.spentMicros += cost.amountMicros;
        this.localSpend.set(budget.id, (this.localSpend.get(budget.id) ?? 0) + cost.amountMicros);
      }
    } else {
      // A request created elsewhere (or long ago): which budgets it falls in is unknown here.
      this.wholeDue = true;
    }
    this.evaluateSoon();
  }

  /**
   * A request this tracker knows changed tenant, session or user (`setContext`): its costs
   * and held estimate now count in the budgets of its new scope. The cached spend of the old
   * ones is put right by the evaluation this schedules, which reads the store.
   */
  contextChanged(change: {
    requestId: string;
    tenantId?: string | null;
    sessionId?: string | null;
    userId?: string;
  }): void {
    if (this.cache.size === 0) return;
    const scope = this.scopes.get(change.requestId);
    if (scope) {
      if (change.tenantId !== undefined) scope.tenantId = change.tenantId;
      if (change.sessionId !== undefined) scope.sessionId = change.sessionId;
      if (change.userId !== undefined) scope.userId = change.userId;
      const held = this.holds.get(change.requestId);
      if (held) {
        const { remaining, committed } = held;
        this.release(change.requestId);
        this.hold(change.requestId, scope, remaining);
        const moved = this.holds.get(change.requestId);
        if (moved) moved.committed = committed;
      }
    }
    // The budgets of its old scope lose its costs: only the store's figures can say by how much.
    this.wholeDue = true;
    this.evaluateSoon();
  }

  /** Reads the figures back from the store a little later (changes come in bursts). */
  private evaluateSoon(): void {
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      void this.run();
    }, COST_EVALUATION_DELAY_MS);
    this.soon.unref();
  }

  /** Budgets as Prometheus sees them: spend and limit per budget. */
  gauges(): {
    id: string;
    name: string;
    tenantId: string | null;
    spentUsd: number;
    limitUsd: number;
  }[] {
    return [...this.cache.values()].map((e) => ({
      id: e.budget.id,
      name: e.budget.name,
      tenantId: e.budget.scope.tenantId,
      spentUsd: usd(e.spentMicros),
      limitUsd: usd(e.budget.amountMicros),
    }));
  }

  /** Reads every budget's spend, refreshes the cache, and sends the alerts newly crossed. */
  evaluate(): Promise<void> {
    this.wholeDue = true;
    return this.run();
  }

  /** Evaluates what is due (every budget, or those costs touched), one evaluation at a time. */
  private run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    // Nothing due (costs outside every budget): the loop below would end before `running`
    // is even set, and leave it set for good.
    if (!this.wholeDue && this.touched.size === 0) return Promise.resolve();
    this.running = (async () => {
      try {
        do {
          this.again = false;
          const whole = this.wholeDue;
          const touched = this.touched;
          this.wholeDue = false;
          this.touched = new Set();
          if (whole) await this.evaluateOnce(null);
          else if (touched.size > 0) await this.evaluateOnce(touched);
        } while (this.again);
      } catch (error) {
        // Spend could not be read (the store is down): keep the last figures and try later.
        this.host.logger.warn(
          { err: error },
          "Could not evaluate cost budgets; keeping the last figures",
        );
      } finally {
        this.running = null;
        this.building = null;
      }
    })();
    return this.running;
  }

  /**
   * Reads the spend of every budget (`only` null: the list too, from the store) or of the
   * cached budgets in `only`, and sends the alerts they newly crossed.
   */
  private async evaluateOnce(only: Set<string> | null): Promise<void> {
    const store = this.host.store.budgets;
    const budgets =
      only === null
        ? await store.listBudgets()
        : [...only].flatMap((id) => this.cache.get(id)?.budget ?? []);
    const now = this.host.clock();
    const next = new Map<string, EvaluatedBudget>();
    this.building = next;
    for (const budget of budgets) {
      const window = budgetWindow(budget, now);
      const localBefore = this.localSpend.get(budget.id) ?? 0;
      const reservedBefore = this.localReserved.get(budget.id) ?? 0;
      // Estimates held for creates not yet committed are not in the store's figure yet.
      let uncommitted = 0;
      for (const held of this.holds.values()) {
        if (!held.committed && held.budgetIds.includes(budget.id)) uncommitted += held.remaining;
      }
      const stored = await store.budgetSpend(budget.scope, window.from, window.to);
      const storedReserved = await store.budgetReserved(budget.scope);
      const spent = stored + (this.localSpend.get(budget.id) ?? 0) - localBefore;
      const reserved = Math.max(
        0,
        storedReserved + uncommitted + (this.localReserved.get(budget.id) ?? 0) - reservedBefore,
      );
      const previous = this.cache.get(budget.id);
      const alerted =
        previous && previous.window.key === window.key ? previous.alerted : new Set<number>();
      const entry: EvaluatedBudget = {
        budget,
        spentMicros: spent,
        storedMicros: stored,
        reservedMicros: reserved,
        window,
        alerted,
      };
      next.set(budget.id, entry);
      await this.alerts.fire(entry, now);
    }
    if (only === null) {
      this.cache = next;
    } else {
      // A budget deleted meanwhile stays deleted.
      for (const [id, entry] of next) if (this.cache.has(id)) this.cache.set(id, entry);
    }
    this.building = null;
  }
}
