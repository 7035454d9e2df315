import type { Migration } from "./migrations/migration.js";

/**
 * Live counts on SQLite (migration 25): how many requests are pending and running, per tenant
 * and lane, kept by triggers on `requests` so every writer (creates, transitions, claims,
 * sweeps, soft and hard deletes, replays) keeps them without code of its own. The overview
 * read them with `count(*)` over the status index: O(pending), which under a steady load that
 * leaves work queued grows without bound (the soak queued 192,000 requests in 10 minutes and
 * the overview's count came to dominate the server's CPU). Now it sums at most
 * tenants x 2 statuses x 3 lanes rows.
 *
 * Counted: status pending or running and not soft-deleted, as the old count did. `tenant` is
 * '' for requests without one (ids are never empty). Rows that fall to 0 stay; they are few.
 *
 * PostgreSQL keeps its count: there, one counter row per (tenant, status, lane) would be
 * updated by every claim's transaction and held until it commits, so workers claiming with
 * `FOR UPDATE SKIP LOCKED` on many machines would queue on it (and could deadlock against a
 * writer batch updating the same rows in another order). It still counts the live rows.
 */
const COUNTED = (row: string) =>
  `${row}.status IN ('pending', 'running') AND ${row}.deleted_at IS NULL`;
const ADD = (row: string) => `INSERT INTO live_counts (tenant, status, lane, n)
    SELECT coalesce(${row}.tenant_id, ''), ${row}.status, ${row}.lane, 1 WHERE ${COUNTED(row)}
    ON CONFLICT (tenant, status, lane) DO UPDATE SET n = n + 1;`;
const TAKE = (row: string) => `UPDATE live_counts SET n = n - 1
    WHERE ${COUNTED(row)} AND tenant = coalesce(${row}.tenant_id, '')
      AND status = ${row}.status AND lane = ${row}.lane;`;

export const SQLITE_LIVE_COUNTS_MIGRATION: Migration = {
  version: 25,
  name: "live_counts",
  up: `
CREATE TABLE live_counts (
  tenant TEXT NOT NULL,
  status TEXT NOT NULL,
  lane   TEXT NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (tenant, status, lane)
) WITHOUT ROWID;
INSERT INTO live_counts (tenant, status, lane, n)
  SELECT coalesce(tenant_id, ''), status, lane, count(*) FROM requests
  WHERE status IN ('pending', 'running') AND deleted_at IS NULL GROUP BY 1, 2, 3;
CREATE TRIGGER live_counts_insert AFTER INSERT ON requests WHEN ${COUNTED("new")}
BEGIN
  ${ADD("new")}
END;
CREATE TRIGGER live_counts_update AFTER UPDATE OF status, lane, tenant_id, deleted_at ON requests
  WHEN (${COUNTED("old")} OR ${COUNTED("new")}) AND (old.status IS NOT new.status
    OR old.lane IS NOT new.lane OR old.tenant_id IS NOT new.tenant_id
    OR old.deleted_at IS NOT new.deleted_at)
BEGIN
  ${TAKE("old")}
  ${ADD("new")}
END;
CREATE TRIGGER live_counts_delete AFTER DELETE ON requests WHEN ${COUNTED("old")}
BEGIN
  ${TAKE("old")}
END;
`,
};
