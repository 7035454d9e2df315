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
import type { Sql } from "./pg-connection.js";
import { type DimsRow, PostgresRollups } from "./postgres-rollups.js";

const UPSERT = `INSERT INTO prices (${PRICE_COLUMNS.join(", ")})
  VALUES (${PRICE_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})
  ON CONFLICT (service, model, effective_from) DO UPDATE SET
    input_micros_per_m = excluded.input_micros_per_m,
    output_micros_per_m = excluded.output_micros_per_m,
    unit_micros_per_m = excluded.unit_micros_per_m, unit = excluded.unit
  RETURNING *`;

/** The price table on PostgreSQL; a reprice batch is one transaction with its rollup deltas. */
export class PostgresPrices implements PriceStore {
  constructor(
    private readonly sql: Sql,
    private readonly transaction: <T>(work: (sql: Sql) => Promise<T>) => Promise<T>,
  ) {}

  async savePrice(price: Price): Promise<Price> {
    const row = toPriceRow(price);
    const saved = await this.sql.row<PriceRow>(
      UPSERT,
      PRICE_COLUMNS.map((c) => row[c]),
    );
    return fromPriceRow(saved as PriceRow);
  }

  async listPrices(): Promise<Price[]> {
    const rows = await this.sql.rows<PriceRow>(
      "SELECT * FROM prices ORDER BY service, model, effective_from",
    );
    return rows.map(fromPriceRow);
  }

  async deletePrice(id: string): Promise<boolean> {
    return (await this.sql.run("DELETE FROM prices WHERE id = $1", [id])) === 1;
  }

  async pricedCosts(
    range: { from: number; to: number; service?: string },
    afterId: number,
    limit: number,
  ): Promise<PricedCostRow[]> {
    const { where, values } = pricedCostsWhere(range, (i) => `$${i}`);
    const n = values.length;
    return this.sql.rows<PricedCostRow>(
      `SELECT id, request_id AS "requestId", ts, service, usage, amount_micros AS "amountMicros"
      FROM costs WHERE ${where} AND id > $${n + 1} ORDER BY id LIMIT $${n + 2}`,
      [...values, afterId, limit],
    );
  }

  async countPricedCosts(range: { from: number; to: number; service?: string }): Promise<number> {
    const { where, values } = pricedCostsWhere(range, (i) => `$${i}`);
    const row = await this.sql.row<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM costs WHERE ${where}`,
      values,
    );
    return Number(row?.n ?? 0);
  }

  async applyReprice(changes: readonly RepriceChange[]): Promise<void> {
    if (changes.length === 0) return;
    await this.transaction(async (sql) => {
      await sql.run(
        `UPDATE costs c SET amount_micros = d.amount, price = d.price
        FROM unnest($1::int8[], $2::int8[], $3::text[]) AS d(id, amount, price) WHERE c.id = d.id`,
        [
          changes.map((c) => c.costId),
          changes.map((c) => c.amountMicros),
          changes.map((c) => JSON.stringify(c.price)),
        ],
      );
      const moved = changes.filter((c) => c.deltaMicros !== 0);
      if (moved.length === 0) return;
      // Per request, in id order (as the writer locks them), so a reprice cannot deadlock
      // with a batch writing the same requests.
      const byRequest = new Map<string, number>();
      for (const c of moved)
        byRequest.set(c.requestId, (byRequest.get(c.requestId) ?? 0) + c.deltaMicros);
      const ids = [...byRequest.keys()].sort();
      await sql.run("SELECT 1 FROM requests WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [
        ids,
      ]);
      const dims = await sql.rows<DimsRow & { id: string }>(
        `UPDATE requests r SET cost_micros = r.cost_micros + d.delta
        FROM unnest($1::text[], $2::int8[]) AS d(id, delta) WHERE r.id = d.id
        RETURNING r.id, r.created_at AS "createdAt", r.tenant_id AS "tenantId", r.kind,
          r.source, r.session_id AS "sessionId"`,
        [ids, ids.map((id) => byRequest.get(id))],
      );
      const rollups = new PostgresRollups(sql);
      const dimsOf = new Map(dims.map((d) => [d.id, d]));
      for (const c of moved) {
        const d = dimsOf.get(c.requestId);
        if (d) rollups.costRepriced(d, c.service, c.deltaMicros);
      }
      await rollups.flush();
    });
  }
}
