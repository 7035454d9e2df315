import {
  microsToPerMillion,
  microsToPerUnit,
  perMillionToMicros,
  perUnitToMicros,
  type Price,
} from "../core/prices.js";
import type { PriceUsed } from "../core/types.js";

/** A cost the price table priced, as `reprice` reads it. */
export interface PricedCostRow {
  id: number;
  requestId: string;
  ts: number;
  service: string;
  usage: string | null;
  amountMicros: number;
}

/** One cost's new amount and the price it came from. */
export interface RepriceChange {
  costId: number;
  requestId: string;
  service: string;
  /** New amount minus old, for the request's total and the rollups. */
  deltaMicros: number;
  amountMicros: number;
  price: PriceUsed;
}

/**
 * The price table (`tracker.prices`) and the one write that changes recorded costs on
 * purpose: `reprice`. Both drivers keep it; every server sharing the store sees one table.
 */
export interface PriceStore {
  /**
   * Inserts a price, or replaces the version of the same service, model and effective time
   * (keeping its id). Returns the price as stored.
   */
  savePrice(price: Price): Promise<Price>;
  listPrices(): Promise<Price[]>;
  deletePrice(id: string): Promise<boolean>;
  /**
   * Costs recorded in [from, to) whose amount the price table computed (caller amounts are
   * never repriced), of `service` when given, with ids above `afterId`, in id order.
   */
  pricedCosts(
    range: { from: number; to: number; service?: string },
    afterId: number,
    limit: number,
  ): Promise<PricedCostRow[]>;
  countPricedCosts(range: { from: number; to: number; service?: string }): Promise<number>;
  /**
   * Writes new amounts in one transaction: the costs (amount and price), their requests'
   * totals and the cost rollups, so every report agrees with the rows afterwards.
   */
  applyReprice(changes: readonly RepriceChange[]): Promise<void>;
}

export interface PriceRow {
  id: string;
  service: string;
  model: string;
  input_micros_per_m: number | null;
  output_micros_per_m: number | null;
  unit_micros_per_m: number | null;
  unit: string | null;
  effective_from: number;
  created_at: number;
}

export const PRICE_COLUMNS = [
  "id",
  "service",
  "model",
  "input_micros_per_m",
  "output_micros_per_m",
  "unit_micros_per_m",
  "unit",
  "effective_from",
  "created_at",
] as const;

export function toPriceRow(p: Price): PriceRow {
  const m = (usd: number | null, f: (n: number) => number) => (usd === null ? null : f(usd));
  return {
    id: p.id,
    service: p.service,
    model: p.model,
    input_micros_per_m: m(p.inputUsdPerMillion, perMillionToMicros),
    output_micros_per_m: m(p.outputUsdPerMillion, perMillionToMicros),
    unit_micros_per_m: m(p.unitUsd, perUnitToMicros),
    unit: p.unit,
    effective_from: p.effectiveFrom.getTime(),
    created_at: p.createdAt.getTime(),
  };
}

export function fromPriceRow(row: PriceRow): Price {
  const n = (v: number | string | null, f: (n: number) => number) =>
    v === null ? null : f(Number(v));
  return {
    id: row.id,
    service: row.service,
    model: row.model,
    inputUsdPerMillion: n(row.input_micros_per_m, microsToPerMillion),
    outputUsdPerMillion: n(row.output_micros_per_m, microsToPerMillion),
    unitUsd: n(row.unit_micros_per_m, microsToPerUnit),
    unit: row.unit,
    effectiveFrom: new Date(Number(row.effective_from)),
    createdAt: new Date(Number(row.created_at)),
  };
}

/** The WHERE clause of the priced costs of a period, with `?` or `$n` placeholders. */
export function pricedCostsWhere(
  range: { from: number; to: number; service?: string },
  placeholder: (index: number) => string,
): { where: string; values: (string | number)[] } {
  const values: (string | number)[] = [range.from, range.to];
  let where = `price IS NOT NULL AND ts >= ${placeholder(1)} AND ts < ${placeholder(2)}`;
  if (range.service !== undefined) {
    values.push(range.service);
    where += ` AND service = ${placeholder(3)}`;
  }
  return { where, values };
}
