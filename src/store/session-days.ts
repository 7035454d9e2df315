import type { Migration } from "./migrations/migration.js";

/**
 * The rest of a cost report's sessions without reading every session of the period.
 *
 * After the top sessions (session-totals.ts), a report sums the rest: the period's
 * rollup_sessions rows that are not empty, counted and summed. At a million requests a 30-day
 * report held ~150,000 such rows (one per session and day), and that one pass was most of the
 * report's time (p50 69 ms, p99 83 ms alone on SQLite). Migration 26 (SQLite) / 25
 * (PostgreSQL) adds `rollup_session_days`: per UTC day (the rollup_sessions bucket), per
 * tenant (scope 1) and over all tenants (scope 0, tenant ''), how many rows are not empty and
 * their requests and cost. Triggers on rollup_sessions keep it, so every path that writes
 * that table (creates, costs, reprices, context moves, hard deletes, outbox replays, rebuilds)
 * keeps it too; a period's sums are then one row per day.
 *
 * A row is "not empty" when requests or cost is not 0, as the report's pass counted it (hard
 * deletes leave rows of zeros behind). On PostgreSQL the scope-0 row of a day is written
 * before the tenant's, and the writer upserts rollup_sessions sorted by (bucket, tenant,
 * session), so two writers lock these rows in the same order.
 */
const SCOPES = [
  { scope: 0, tenant: () => "''" },
  { scope: 1, tenant: (row: string) => `${row}.tenant` },
] as const;

const NOT_EMPTY = (row: string) =>
  `CASE WHEN ${row}.requests <> 0 OR ${row}.cost_micros <> 0 THEN 1 ELSE 0 END`;

/** Adds (`sign` 1) or takes (-1) one rollup_sessions row to its two day rows. */
const sqliteApply = (row: string, sign: 1 | -1) =>
  SCOPES.map(
    ({ scope, tenant }) => `  INSERT INTO rollup_session_days
    (scope, tenant, bucket, rows, requests, cost_micros)
    VALUES (${scope}, ${tenant(row)}, ${row}.bucket, ${sign} * ${NOT_EMPTY(row)},
      ${sign} * ${row}.requests, ${sign} * ${row}.cost_micros)
  ON CONFLICT DO UPDATE SET rows = rows + excluded.rows,
    requests = requests + excluded.requests, cost_micros = cost_micros + excluded.cost_micros;`,
  ).join("\n");

const BACKFILL = SCOPES.map(
  ({ scope, tenant }) => `INSERT INTO rollup_session_days
  (scope, tenant, bucket, rows, requests, cost_micros)
  SELECT ${scope}, ${tenant("s")}, s.bucket, sum(${NOT_EMPTY("s")}), sum(s.requests),
    sum(s.cost_micros)
  FROM rollup_sessions s GROUP BY ${scope === 1 ? "s.tenant, " : ""}s.bucket;`,
).join("\n");

export const SQLITE_SESSION_DAYS_MIGRATION: Migration = {
  version: 26,
  name: "session_days",
  up: `
CREATE TABLE rollup_session_days (
  scope       INTEGER NOT NULL,
  tenant      TEXT NOT NULL,
  bucket      INTEGER NOT NULL,
  rows        INTEGER NOT NULL DEFAULT 0,
  requests    INTEGER NOT NULL DEFAULT 0,
  cost_micros INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, tenant, bucket)
) WITHOUT ROWID;
${BACKFILL}
CREATE TRIGGER rollup_session_days_insert AFTER INSERT ON rollup_sessions
BEGIN
${sqliteApply("new", 1)}
END;
CREATE TRIGGER rollup_session_days_update AFTER UPDATE ON rollup_sessions
BEGIN
${sqliteApply("old", -1)}
${sqliteApply("new", 1)}
END;
CREATE TRIGGER rollup_session_days_delete AFTER DELETE ON rollup_sessions
BEGIN
${sqliteApply("old", -1)}
END;
`,
};

export const POSTGRES_SESSION_DAYS_MIGRATION: Migration = {
  version: 25,
  name: "session_days",
  up: `
CREATE TABLE rollup_session_days (
  scope       SMALLINT NOT NULL,
  tenant      TEXT NOT NULL,
  bucket      BIGINT NOT NULL,
  rows        BIGINT NOT NULL DEFAULT 0,
  requests    BIGINT NOT NULL DEFAULT 0,
  cost_micros BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, tenant, bucket)
);
${BACKFILL}
-- Unqualified names: the function runs in the schema of the writer's search_path.
CREATE FUNCTION rollup_session_days_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO rollup_session_days AS d (scope, tenant, bucket, rows, requests, cost_micros)
      VALUES (0, '', OLD.bucket, -(${NOT_EMPTY("OLD")}), -OLD.requests, -OLD.cost_micros),
        (1, OLD.tenant, OLD.bucket, -(${NOT_EMPTY("OLD")}), -OLD.requests, -OLD.cost_micros)
    ON CONFLICT (scope, tenant, bucket) DO UPDATE SET rows = d.rows + excluded.rows,
      requests = d.requests + excluded.requests,
      cost_micros = d.cost_micros + excluded.cost_micros;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO rollup_session_days AS d (scope, tenant, bucket, rows, requests, cost_micros)
      VALUES (0, '', NEW.bucket, ${NOT_EMPTY("NEW")}, NEW.requests, NEW.cost_micros),
        (1, NEW.tenant, NEW.bucket, ${NOT_EMPTY("NEW")}, NEW.requests, NEW.cost_micros)
    ON CONFLICT (scope, tenant, bucket) DO UPDATE SET rows = d.rows + excluded.rows,
      requests = d.requests + excluded.requests,
      cost_micros = d.cost_micros + excluded.cost_micros;
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER rollup_session_days AFTER INSERT OR UPDATE OR DELETE ON rollup_sessions
  FOR EACH ROW EXECUTE FUNCTION rollup_session_days_apply();
`,
};
