import { randomUUID } from "node:crypto";
import { ValidationError } from "../core/errors.js";
import type { CostOp } from "../core/ops.js";
import {
  type Price,
  type PriceInput,
  priceCost,
  priceInForce,
  priceInputSchema,
  readUsage,
} from "../core/prices.js";
import { parse, timestampSchema } from "../core/schemas.js";
import type { JsonValue } from "../core/types.js";
import type { RepriceChange } from "../store/price-store.js";
import type { Store } from "../store/store.js";

/** How long this tracker prices costs from its copy of the table before reading it again. */
const PRICE_CACHE_MS = 5000;
const REPRICE_BATCH = 500;

export interface PricesHost {
  store: Store;
  clock: () => number;
  /** Waits for this tracker's queued writes (a reprice must see every cost recorded so far). */
  flush: () => Promise<void>;
}

/** What `reprice` did. */
export interface RepriceReport {
  /** Costs of the period that the table had priced. */
  costs: number;
  /** Of those, costs whose amount or price changed. */
  changed: number;
  /** Costs left as they were: no price applies to them any more. */
  unpriced: number;
  /** New total minus old, over the changed costs. */
  deltaUsd: number;
}

export interface RepriceOptions {
  from: Date | number;
  to: Date | number;
  service?: string;
  /** Called after each batch with how many costs were looked at, of how many. */
  onProgress?: (progress: { done: number; total: number }) => void;
}

/**
 * `tracker.prices`: the versioned price table. A cost recorded with `usage` and no amount is
 * priced from the version in force at the cost's time, and the price used is stored with the
 * cost, so setting a new price never rewrites history; `reprice` does, for a period, on purpose.
 */
export class Prices {
  private cached: Price[] | null = null;
  private loadedAt = 0;

  constructor(private readonly host: PricesHost) {}

  /**
   * Adds a price version (or replaces the one of the same service, model and `effectiveFrom`).
   *
   * @example
   * await tracker.prices.set({ service: "openai", model: "gpt-4o*", inputUsdPerMillion: 2.5, outputUsdPerMillion: 10 });
   */
  async set(input: PriceInput): Promise<Price> {
    const p = parse(priceInputSchema, input, "price");
    const now = this.host.clock();
    const saved = await this.host.store.prices.savePrice({
      id: `price_${randomUUID()}`,
      service: p.service,
      model: p.model,
      inputUsdPerMillion: p.inputUsdPerMillion ?? null,
      outputUsdPerMillion: p.outputUsdPerMillion ?? null,
      unitUsd: p.unitUsd ?? null,
      unit: p.unit ?? null,
      effectiveFrom: new Date(p.effectiveFrom === undefined ? now : p.effectiveFrom),
      createdAt: new Date(now),
    });
    this.cached = null;
    return saved;
  }

  /** Every version, by service, model and effective time; of one service when given. */
  async list(options: { service?: string } = {}): Promise<Price[]> {
    const all = await this.host.store.prices.listPrices();
    return options.service === undefined ? all : all.filter((p) => p.service === options.service);
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.host.store.prices.deletePrice(id);
    this.cached = null;
    return deleted;
  }

  /** The price in force for a service and model at a time (default now), or null. */
  async inForce(service: string, model: string, at?: number): Promise<Price | null> {
    return priceInForce(await this.table(), service, model, at ?? this.host.clock());
  }

  /**
   * A cost op built without an amount, with its amount and price from the table. Throws a
   * `ValidationError` (field `amountUsd`) when its usage counts nothing or no price applies.
   */
  async price(op: CostOp): Promise<CostOp> {
    if (!op.unpriced) return op;
    const usage = readUsage(op.usage);
    if (!usage) {
      throw new ValidationError(
        "usage",
        "counts nothing to price: give inputTokens, outputTokens or units (or send amountUsd)",
      );
    }
    const price = priceInForce(await this.table(), op.service, usage.model, op.at);
    if (!price) {
      throw new ValidationError(
        "amountUsd",
        `is required: no price for service ${op.service}, model "${usage.model}" at ${new Date(op.at).toISOString()} (set one with tracker.prices.set)`,
      );
    }
    const { micros, used } = priceCost(price, usage);
    const { unpriced: _, ...rest } = op;
    return { ...rest, amountMicros: micros, price: used };
  }

  /**
   * Recomputes the costs of [from, to) that the table priced, from the prices in force now
   * for their times, and corrects their requests' totals and the rollups. Costs given an
   * amount by their caller are never touched.
   */
  async reprice(options: RepriceOptions): Promise<RepriceReport> {
    const from = parse(timestampSchema, options.from, "from");
    const to = parse(timestampSchema, options.to, "to");
    const range = {
      from: new Date(from).getTime(),
      to: new Date(to).getTime(),
      ...(options.service !== undefined ? { service: options.service } : {}),
    };
    if (range.to <= range.from) throw new ValidationError("to", "must be after from");
    await this.host.flush();
    this.cached = null;
    const table = await this.table();
    const store = this.host.store.prices;
    const total = await store.countPricedCosts(range);
    const report: RepriceReport = { costs: 0, changed: 0, unpriced: 0, deltaUsd: 0 };
    let delta = 0;
    let after = 0;
    for (;;) {
      const rows = await store.pricedCosts(range, after, REPRICE_BATCH);
      if (rows.length === 0) break;
      const changes: RepriceChange[] = [];
      for (const row of rows) {
        after = Math.max(after, Number(row.id));
        report.costs++;
        const usage = readUsage(row.usage === null ? null : (JSON.parse(row.usage) as JsonValue));
        const model = usage?.model ?? "";
        const price = usage ? priceInForce(table, row.service, model, Number(row.ts)) : null;
        if (!usage || !price) {
          report.unpriced++;
          continue;
        }
        const { micros, used } = priceCost(price, usage);
        const old = Number(row.amountMicros);
        changes.push({
          costId: Number(row.id),
          requestId: row.requestId,
          service: row.service,
          deltaMicros: micros - old,
          amountMicros: micros,
          price: used,
        });
        if (micros !== old) report.changed++;
        delta += micros - old;
      }
      await store.applyReprice(changes);
      options.onProgress?.({ done: report.costs, total: Math.max(total, report.costs) });
      if (rows.length < REPRICE_BATCH) break;
    }
    report.deltaUsd = delta / 1_000_000;
    return report;
  }

  private async table(): Promise<Price[]> {
    const now = this.host.clock();
    if (this.cached === null || Math.abs(now - this.loadedAt) > PRICE_CACHE_MS) {
      this.cached = await this.host.store.prices.listPrices();
      this.loadedAt = now;
    }
    return this.cached;
  }
}
