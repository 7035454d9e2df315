import type { Migration } from "./migrations/migration.js";

/**
 * `rollup_spend` (migration 22) counts each cost under its request's tenant, from triggers
 * on `costs`. A request's tenant can change after its costs are in (`setContext`: the tenant
 * found by the handler), and then its spend stayed under the old tenant: a tenant's budget
 * missed it. Migration 23 moves it: when `requests.tenant_id` changes, the request's costs
 * leave the tenant levels (1, 3) of the old tenant and join the new one's. Kinds never
 * change, and levels 0 and 2 keep no tenant. `(ts / day) * day` is the cost's UTC day, as in
 * migration 22.
 */
const DAY = 86_400_000;

/** The four (level, tenant, kind, sign) rows a move writes, over the trigger's old and new row. */
const MOVES = (name: (row: "old" | "new") => string) => [
  `1, coalesce(${name("old")}.tenant_id, ''), '', -1`,
  `1, coalesce(${name("new")}.tenant_id, ''), '', 1`,
  `3, coalesce(${name("old")}.tenant_id, ''), coalesce(${name("new")}.kind, ''), -1`,
  `3, coalesce(${name("new")}.tenant_id, ''), coalesce(${name("new")}.kind, ''), 1`,
];

export const SQLITE_SPEND_MOVE_MIGRATION: Migration = {
  version: 23,
  name: "spend_follows_tenant",
  // A VALUES subquery names its columns column1 to column4: level, tenant, kind, sign.
  up: `
CREATE TRIGGER rollup_spend_move AFTER UPDATE OF tenant_id ON requests
WHEN coalesce(old.tenant_id, '') <> coalesce(new.tenant_id, '')
BEGIN
  INSERT INTO rollup_spend (level, tenant, kind, bucket, service, cost_micros)
    SELECT l.column1, l.column2, l.column3, (c.ts / ${DAY}) * ${DAY}, c.service,
      sum(l.column4 * c.amount_micros)
    FROM costs c, (VALUES ${MOVES((s) => s)
      .map((row) => `(${row})`)
      .join(", ")}) AS l
    WHERE c.request_id = new.id
    GROUP BY 1, 2, 3, 4, 5
  ON CONFLICT DO UPDATE SET cost_micros = cost_micros + excluded.cost_micros;
END;
`,
};

export const POSTGRES_SPEND_MOVE_MIGRATION: Migration = {
  version: 23,
  name: "spend_follows_tenant",
  up: `
-- Unqualified names: the function runs in the schema of the writer's search_path.
CREATE FUNCTION rollup_spend_move() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO rollup_spend AS s (level, tenant, kind, bucket, service, cost_micros)
    SELECT l.level, l.tenant, l.kind, (c.ts / ${DAY}) * ${DAY}, c.service,
      sum(l.sign * c.amount_micros)
    FROM costs c, LATERAL (VALUES ${MOVES((s) => s.toUpperCase())
      .map((row) => `(${row})`)
      .join(", ")}) AS l (level, tenant, kind, sign)
    WHERE c.request_id = NEW.id
    GROUP BY 1, 2, 3, 4, 5
  ON CONFLICT (level, tenant, kind, bucket, service)
    DO UPDATE SET cost_micros = s.cost_micros + excluded.cost_micros;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER rollup_spend_move AFTER UPDATE OF tenant_id ON requests
  FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
  EXECUTE FUNCTION rollup_spend_move();
`,
};
