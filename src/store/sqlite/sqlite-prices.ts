import type Database from "better-sqlite3";
import type { Price } from "../../core/prices.js";
import {
  fromPriceRow,
  PRICE_COLUMNS,
  type PriceRow,
  type PriceStore,
  type PricedCostRow,
  pricedCostsWhere,
  type RepriceChange,
  toPriceRow,
} from "../price-store.js";
import type { SqliteRollups } from "./sqlite-rollups.js";

/** The price table on SQLite; a reprice batch is one transaction with its rollup deltas. */
export class SqlitePrices implements PriceStore {
  constructor(
    private readonly db: Database.Database,
    private readonly write: <T>(fn: () => T) => Promise<T>,
    private readonly rollups: SqliteRollups,
  ) {}

  async savePrice(price: Price): Promise<Price> {
    const upsert = this.db.prepare(
      `INSERT INTO prices (${PRICE_COLUMNS.join(", ")})
      VALUES (${PRICE_COLUMNS.map((c) => `@${c}`).join(", ")})
      ON CONFLICT (service, model, effective_from) DO UPDATE SET
        input_micros_per_m = excluded.input_micros_per_m,
        output_micros_per_m = excluded.output_micros_per_m,
        unit_micros_per_m = excluded.unit_micros_per_m, unit = excluded.unit
      RETURNING *`,
    );
    return fromPriceRow((await this.write(() => upsert.get(toPriceRow(price)))) as PriceRow);
  }

  async listPrices(): Promise<Price[]> {
    const rows = this.db
      .prepare("SELECT * FROM prices ORDER BY service, model, effective_from")
      .all() as PriceRow[];
    return rows.map(fromPriceRow);
  }

  async deletePrice(id: string): Promise<boolean> {
    const remove = this.db.prepare("DELETE FROM prices WHERE id = ?");
    return (await this.write(() => remove.run(id))).changes === 1;
  }

  async pricedCosts(
    range: { from: number; to: number; service?: string },
    afterId: number,
    limit: number,
  ): Promise<PricedCostRow[]> {
    const { where, values } = pricedCostsWhere(range, () => "?");
    return this.db
      .prepare(
        `SELECT id, request_id AS requestId, ts, service, usage, amount_micros AS amountMicros
        FROM costs WHERE ${where} AND id > ? ORDER BY id LIMIT ?`,
      )
      .all(...values, afterId, limit) as PricedCostRow[];
  }

  async countPricedCosts(range: { from: number; to: number; service?: string }): Promise<number> {
    const { where, values } = pricedCostsWhere(range, () => "?");
    return this.db
      .prepare(`SELECT count(*) FROM costs WHERE ${where}`)
      .pluck()
      .get(...values) as number;
  }

  async applyReprice(changes: readonly RepriceChange[]): Promise<void> {
    const setCost = this.db.prepare("UPDATE costs SET amount_micros = ?, price = ? WHERE id = ?");
    const addToRequest = this.db.prepare(
      "UPDATE requests SET cost_micros = cost_micros + ? WHERE id = ?",
    );
    const apply = this.db.transaction(() =>
      this.rollups.within(() => {
        for (const c of changes) {
          setCost.run(c.amountMicros, JSON.stringify(c.price), c.costId);
          if (c.deltaMicros === 0) continue;
          addToRequest.run(c.deltaMicros, c.requestId);
          this.rollups.costRepriced(c.requestId, c.service, c.deltaMicros);
        }
      }),
    );
    await this.write(() => apply.immediate());
  }
}
