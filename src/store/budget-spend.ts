import type { BudgetScope } from "../core/budgets.js";
import type { Migration } from "./migrations/migration.js";

/**
 * A budget's spend without reading every cost of its period.
 *
 * Spend is the costs recorded (by `costs.ts`) in the budget's window; a month's window held
 * every cost row of the month, and the tracker reads it for each budget status, burn-down and
 * alert check (at a million requests, 1.4 million rows joined to their requests: seconds,
 * on the event loop). Migration 22 adds `rollup_spend`: money per UTC day of `ts`, per
 * service, at four levels (all tenants and kinds, per tenant, per kind, per tenant and
 * kind), kept by triggers on `costs`, so that inserts, reprices and hard deletes (which
 * delete costs before their requests) keep it whatever path wrote them. A window's whole
 * days are read from it (days x services rows); its partial days, if any, from the rows
 * through `costs_ts`. Budgets on a user or a session read their rows, as before.
 */
export interface SpendPlan {
  /** The level answering the scope and the whole days of the window; null: rows only. */
  rollup: { level: number; tenant: string; kind: string; from: number; to: number } | null;
  /** Ranges of `ts` read from the cost rows. */
  rows: { from: number; to: number }[];
}

const DAY = 86_400_000;

/** Level ids: which of tenant (1) and kind (2) the level keeps, as bits. */
const levelOf = (scope: BudgetScope) =>
  (scope.tenantId !== null ? 1 : 0) | (scope.kind !== null ? 2 : 0);

/** How `spend(scope, from, to)` is read: rollup days in the middle, rows at the edges. */
export function spendPlan(scope: BudgetScope, from: number, to: number): SpendPlan {
  if (scope.userId !== null || scope.sessionId !== null || from >= to) {
    return { rollup: null, rows: from < to ? [{ from, to }] : [] };
  }
  const first = Math.ceil(from / DAY) * DAY;
  const last = Math.floor(to / DAY) * DAY;
  if (first >= last) return { rollup: null, rows: [{ from, to }] };
  const rows = [
    { from, to: first },
    { from: last, to },
  ].filter((r) => r.from < r.to);
  const rollup = {
    level: levelOf(scope),
    tenant: scope.tenantId ?? "",
    kind: scope.kind ?? "",
    from: first,
    to: last,
  };
  return { rollup, rows };
}

/** The four (level, tenant, kind) rows one cost adds to, as SQL over the trigger's row. */
function levelRows(tenant: string, kind: string): string[] {
  return [`0, '', ''`, `1, ${tenant}, ''`, `2, '', ${kind}`, `3, ${tenant}, ${kind}`];
}

const DAY_OF = (ts: string) => `(${ts} / ${DAY}) * ${DAY}`;

export const SQLITE_BUDGET_SPEND_MIGRATION: Migration = {
  version: 22,
  name: "budget_spend",
  up: `
CREATE TABLE rollup_spend (
  level       INTEGER NOT NULL,
  bucket      INTEGER NOT NULL,
  tenant      TEXT NOT NULL,
  kind        TEXT NOT NULL,
  service     TEXT NOT NULL,
  cost_micros INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (level, tenant, kind, bucket, service)
) WITHOUT ROWID;
${levelRows("coalesce(r.tenant_id, '')", "coalesce(r.kind, '')")
  .map(
    (dims) => `INSERT INTO rollup_spend (level, tenant, kind, bucket, service, cost_micros)
  SELECT ${dims}, ${DAY_OF("c.ts")}, c.service, sum(c.amount_micros)
  FROM costs c JOIN requests r ON r.id = c.request_id GROUP BY 1, 2, 3, 4, 5;`,
  )
  .join("\n")}
${[
  ["insert", "AFTER INSERT", "new", "new.amount_micros"],
  ["update", "AFTER UPDATE OF amount_micros", "new", "new.amount_micros - old.amount_micros"],
  ["delete", "AFTER DELETE", "old", "-old.amount_micros"],
]
  .map(
    ([name, when, row, delta]) => `CREATE TRIGGER rollup_spend_${name} ${when} ON costs
BEGIN
${levelRows("coalesce(r.tenant_id, '')", "coalesce(r.kind, '')")
  .map(
    (dims) => `  INSERT INTO rollup_spend (level, tenant, kind, bucket, service, cost_micros)
    SELECT ${dims}, ${DAY_OF(`${row}.ts`)}, ${row}.service, ${delta}
    FROM requests r WHERE r.id = ${row}.request_id
  ON CONFLICT DO UPDATE SET cost_micros = cost_micros + excluded.cost_micros;`,
  )
  .join("\n")}
END;`,
  )
  .join("\n")}
`,
};

export const POSTGRES_BUDGET_SPEND_MIGRATION: Migration = {
  version: 22,
  name: "budget_spend",
  up: `
CREATE TABLE rollup_spend (
  level       SMALLINT NOT NULL,
  bucket      BIGINT NOT NULL,
  tenant      TEXT NOT NULL,
  kind        TEXT NOT NULL,
  service     TEXT NOT NULL,
  cost_micros BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (level, tenant, kind, bucket, service)
);
INSERT INTO rollup_spend (level, tenant, kind, bucket, service, cost_micros)
  SELECT l.level, l.tenant, l.kind, ${DAY_OF("c.ts")}, c.service, sum(c.amount_micros)
  FROM costs c JOIN requests r ON r.id = c.request_id,
  LATERAL (VALUES ${levelRows("coalesce(r.tenant_id, '')", "coalesce(r.kind, '')")
    .map((d) => `(${d})`)
    .join(", ")}) AS l (level, tenant, kind)
  GROUP BY 1, 2, 3, 4, 5;
-- Unqualified names: the function runs in the schema of the writer's search_path.
CREATE FUNCTION rollup_spend_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  c costs%ROWTYPE;
  delta BIGINT;
BEGIN
  IF TG_OP = 'DELETE' THEN c := OLD; delta := -OLD.amount_micros;
  ELSIF TG_OP = 'UPDATE' THEN c := NEW; delta := NEW.amount_micros - OLD.amount_micros;
  ELSE c := NEW; delta := NEW.amount_micros;
  END IF;
  INSERT INTO rollup_spend AS s (level, tenant, kind, bucket, service, cost_micros)
    SELECT l.level, l.tenant, l.kind, ${DAY_OF("c.ts")}, c.service, delta
    FROM requests r, LATERAL (VALUES ${levelRows(
      "coalesce(r.tenant_id, '')",
      "coalesce(r.kind, '')",
    )
      .map((d) => `(${d})`)
      .join(", ")}) AS l (level, tenant, kind)
    WHERE r.id = c.request_id
  ON CONFLICT (level, tenant, kind, bucket, service)
    DO UPDATE SET cost_micros = s.cost_micros + excluded.cost_micros;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER rollup_spend AFTER INSERT OR DELETE OR UPDATE OF amount_micros ON costs
  FOR EACH ROW EXECUTE FUNCTION rollup_spend_apply();
`,
};
