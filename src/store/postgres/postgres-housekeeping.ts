import type { Op } from "../../core/ops.js";
import type { Lane } from "../../core/types.js";
import { countRemoved, noneRemoved, PURGED_TABLES, purgeInBatches } from "../purge.js";
import type { PurgeCounts } from "../store.js";
import type { Sql } from "./pg-connection.js";
import { PostgresRollups } from "./postgres-rollups.js";

// The store's upkeep: queue depth, old applied-op ids, purging old requests.

export async function queueDepth(sql: Sql, tenantId?: string): Promise<Record<Lane, number>> {
  const byTenant = tenantId === undefined ? "" : "AND tenant_id = $1";
  const rows = await sql.rows<{ lane: Lane; n: number }>(
    `SELECT lane, count(*) AS n FROM requests
    WHERE status = 'pending' AND deleted_at IS NULL ${byTenant} GROUP BY lane`,
    tenantId === undefined ? [] : [tenantId],
  );
  const depth: Record<Lane, number> = { high: 0, normal: 0, low: 0 };
  for (const row of rows) depth[row.lane] = row.n;
  return depth;
}

/**
 * Records the ops' ids as applied, in one statement; returns the ids that were not yet
 * recorded (an op whose id is not returned was applied before and must be skipped).
 */
export async function markApplied(sql: Sql, ops: readonly Op[]): Promise<Set<string>> {
  if (ops.length === 0) return new Set();
  const rows = await sql.rows<{ op_id: string }>(
    `INSERT INTO applied_ops (op_id, applied_at)
    SELECT * FROM unnest($1::text[], $2::int8[]) ON CONFLICT DO NOTHING RETURNING op_id`,
    [ops.map((op) => op.opId), ops.map((op) => op.at)],
  );
  return new Set(rows.map((row) => row.op_id));
}

/** Forgets op ids recorded for ops that were then refused, so that a resend is judged again. */
export async function unmarkApplied(sql: Sql, opIds: readonly string[]): Promise<void> {
  if (opIds.length === 0) return;
  await sql.run("DELETE FROM applied_ops WHERE op_id = ANY($1::text[])", [opIds]);
}

export async function pruneAppliedOps(sql: Sql, olderThan: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await sql.run(
      `DELETE FROM applied_ops WHERE op_id IN
      (SELECT op_id FROM applied_ops WHERE applied_at < $1 LIMIT 5000)`,
      [olderThan],
    );
    total += n;
    if (n === 0) return total;
  }
}

export async function purge(
  transaction: <T>(work: (sql: Sql) => Promise<T>) => Promise<T>,
  olderThan: number,
  batchSize: number,
): Promise<PurgeCounts> {
  return purgeInBatches(batchSize, () =>
    transaction(async (sql) => {
      const counts = noneRemoved();
      // SKIP LOCKED: rows a writer holds right now are purged by a later batch or run.
      const ids = (
        await sql.rows<{ id: string }>(
          "SELECT id FROM requests WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED",
          [olderThan, batchSize],
        )
      ).map((row) => row.id);
      if (ids.length === 0) return { ids: 0, counts };
      const rollups = new PostgresRollups(sql);
      await rollups.forget(ids);
      await rollups.flush();
      for (const table of PURGED_TABLES) {
        const remove = `DELETE FROM ${table.table} WHERE ${table.column} = ANY($1::text[])`;
        countRemoved(counts, table, await sql.run(remove, [ids]));
      }
      return { ids: ids.length, counts };
    }),
  );
}
