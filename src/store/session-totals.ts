import type { TimeRange } from "./analytics-store.js";
import type { Migration } from "./migrations/migration.js";

/**
 * Top sessions of a cost report without grouping every session of the period.
 *
 * rollup_sessions holds one row per (day, tenant, session); a report's "top 100 sessions +
 * the rest" used to group all of a period's rows by session and sort them (at a million
 * requests, ~150,000 rows: over 100 ms). Migration 21 adds `rollup_session_totals`: each
 * session's lifetime requests and cost, the first and last day it has rows for, and how many
 * rows it has, per tenant (scope 1) and over all tenants (scope 0). Triggers on
 * rollup_sessions keep it, so every path that writes that table (creates, costs, reprices,
 * hard deletes, outbox replays, rebuilds) keeps the totals without code of its own.
 *
 * A session's cost within a period is at most its lifetime cost (amounts are never
 * negative), so walking the sessions by lifetime cost, largest first, and stopping once the
 * next lifetime cost is below the 100th best cost found gives the exact top. A session whose
 * days all lie in the period costs its lifetime totals; others sum their rows in the period
 * through the (session, bucket) index. The rest's sums are one pass over the period's rows
 * without grouping; the count of sessions is that pass's row count, less the repeats of the
 * few sessions with more than one row (`row_count > 1`, a partial index). The bounds may be loose
 * after hard deletes (days are never shrunk), which only sends a session to its rows.
 */
export interface SessionCandidate {
  session: string;
  requests: number;
  costMicros: number;
  firstBucket: number;
  lastBucket: number;
}

export interface SessionSums {
  requests: number;
  costMicros: number;
}

/** What a driver reads for `topSessions`, each already confined to the report's scope. */
export interface SessionTotalsReader {
  /** Sessions by lifetime cost (largest first, then by id), `limit` from `offset`. */
  candidates(offset: number, limit: number): Promise<SessionCandidate[]>;
  /** One session's rows in the period, summed. */
  inPeriod(session: string): Promise<SessionSums>;
  /** The period's rows that are not empty (hard deletes leave zeros): count and sums. */
  periodSums(): Promise<SessionSums & { rows: number }>;
  /** Of the sessions with more than one row overlapping the period: their rows in it. */
  repeatedRows(): Promise<number[]>;
}

export interface TopSessions {
  top: { sessionId: string; requests: number; costMicros: number }[];
  all: { sessions: number; requests: number; costMicros: number };
}

const PAGE = 200;

/**
 * The `top` costliest sessions of `period` (cost, then id) and the totals of all of them;
 * `reader` reads that period.
 */
export async function topSessions(
  reader: SessionTotalsReader,
  period: TimeRange,
  top: number,
): Promise<TopSessions> {
  const found: TopSessions["top"] = [];
  const kth = () => found[top - 1];
  walk: for (let offset = 0; ; offset += PAGE) {
    const page = await reader.candidates(offset, PAGE);
    for (const c of page) {
      const bound = kth();
      // Nothing further can beat the top: its lifetime cost already cannot.
      if (bound && c.costMicros < bound.costMicros) break walk;
      const inside = c.firstBucket >= period.from && c.lastBucket < period.to;
      const sums = inside ? c : await reader.inPeriod(c.session);
      if (sums.requests === 0 && sums.costMicros === 0) continue;
      insertRanked(
        found,
        { sessionId: c.session, requests: sums.requests, costMicros: sums.costMicros },
        top,
      );
    }
    if (page.length < PAGE) break;
  }
  const [sums, repeated] = await Promise.all([reader.periodSums(), reader.repeatedRows()]);
  const repeats = repeated.reduce((sum, rows) => sum + Math.max(0, rows - 1), 0);
  return {
    top: found,
    all: {
      sessions: sums.rows - repeats,
      requests: sums.requests,
      costMicros: sums.costMicros,
    },
  };
}

/** Inserts `entry` in `list` (cost desc, then id), keeping at most `top` entries. */
function insertRanked(list: TopSessions["top"], entry: TopSessions["top"][number], top: number) {
  let i = list.length;
  while (i > 0) {
    const before = list[i - 1] as TopSessions["top"][number];
    if (
      before.costMicros > entry.costMicros ||
      (before.costMicros === entry.costMicros && before.sessionId < entry.sessionId)
    )
      break;
    i--;
  }
  if (i < top) list.splice(i, 0, entry);
  if (list.length > top) list.pop();
}

/** The rollup_sessions rows of one scope's totals row: by tenant (1), or all together (0). */
const SCOPES = [
  { scope: 1, tenant: "tenant" },
  { scope: 0, tenant: "''" },
] as const;

export const SQLITE_SESSION_TOTALS_MIGRATION: Migration = {
  version: 21,
  name: "session_totals",
  up: `
CREATE TABLE rollup_session_totals (
  scope        INTEGER NOT NULL,
  tenant       TEXT NOT NULL,
  session      TEXT NOT NULL,
  requests     INTEGER NOT NULL DEFAULT 0,
  cost_micros  INTEGER NOT NULL DEFAULT 0,
  row_count    INTEGER NOT NULL DEFAULT 0,
  first_bucket INTEGER NOT NULL,
  last_bucket  INTEGER NOT NULL,
  PRIMARY KEY (scope, tenant, session)
) WITHOUT ROWID;
-- The cost report's walk, costliest first (session-totals.ts).
CREATE INDEX rollup_session_totals_cost
  ON rollup_session_totals (scope, tenant, cost_micros DESC, session);
-- The report's count of sessions: the few with more than one row.
CREATE INDEX rollup_session_totals_repeated
  ON rollup_session_totals (scope, tenant, last_bucket) WHERE row_count > 1;
-- One session's rows in a period (the walk's sessions that straddle its edges).
CREATE INDEX rollup_sessions_session
  ON rollup_sessions (session, bucket, tenant, requests, cost_micros);
${SCOPES.map(
  ({ scope, tenant }) => `INSERT INTO rollup_session_totals
  SELECT ${scope}, ${tenant}, session, sum(requests), sum(cost_micros), count(*), min(bucket),
    max(bucket) FROM rollup_sessions GROUP BY ${scope === 1 ? "tenant, " : ""}session;`,
).join("\n")}
CREATE TRIGGER rollup_session_totals_insert AFTER INSERT ON rollup_sessions
BEGIN
${SCOPES.map(
  ({
    scope,
    tenant,
  }) => `  INSERT INTO rollup_session_totals VALUES (${scope}, ${tenant === "tenant" ? "new.tenant" : tenant},
    new.session, new.requests, new.cost_micros, 1, new.bucket, new.bucket)
  ON CONFLICT DO UPDATE SET requests = requests + excluded.requests,
    cost_micros = cost_micros + excluded.cost_micros, row_count = row_count + 1,
    first_bucket = min(first_bucket, excluded.first_bucket),
    last_bucket = max(last_bucket, excluded.last_bucket);`,
).join("\n")}
END;
CREATE TRIGGER rollup_session_totals_update AFTER UPDATE OF requests, cost_micros
  ON rollup_sessions
BEGIN
${SCOPES.map(
  ({
    scope,
    tenant,
  }) => `  UPDATE rollup_session_totals SET requests = requests + new.requests - old.requests,
    cost_micros = cost_micros + new.cost_micros - old.cost_micros
  WHERE scope = ${scope} AND tenant = ${tenant === "tenant" ? "new.tenant" : tenant} AND session = new.session;`,
).join("\n")}
END;
CREATE TRIGGER rollup_session_totals_delete AFTER DELETE ON rollup_sessions
BEGIN
${SCOPES.map(
  ({ scope, tenant }) => `  UPDATE rollup_session_totals SET requests = requests - old.requests,
    cost_micros = cost_micros - old.cost_micros, row_count = row_count - 1
  WHERE scope = ${scope} AND tenant = ${tenant === "tenant" ? "old.tenant" : tenant} AND session = old.session;`,
).join("\n")}
END;
`,
};

export const POSTGRES_SESSION_TOTALS_MIGRATION: Migration = {
  version: 21,
  name: "session_totals",
  up: `
CREATE TABLE rollup_session_totals (
  scope        SMALLINT NOT NULL,
  tenant       TEXT NOT NULL,
  session      TEXT NOT NULL,
  requests     BIGINT NOT NULL DEFAULT 0,
  cost_micros  BIGINT NOT NULL DEFAULT 0,
  row_count    BIGINT NOT NULL DEFAULT 0,
  first_bucket BIGINT NOT NULL,
  last_bucket  BIGINT NOT NULL,
  PRIMARY KEY (scope, tenant, session)
);
-- The cost report's walk, costliest first (session-totals.ts).
CREATE INDEX rollup_session_totals_cost
  ON rollup_session_totals (scope, tenant, cost_micros DESC, session);
-- The report's count of sessions: the few with more than one row.
CREATE INDEX rollup_session_totals_repeated
  ON rollup_session_totals (scope, tenant, last_bucket) WHERE row_count > 1;
-- One session's rows in a period (the walk's sessions that straddle its edges).
CREATE INDEX rollup_sessions_session
  ON rollup_sessions (session, bucket) INCLUDE (tenant, requests, cost_micros);
${SCOPES.map(
  ({ scope, tenant }) => `INSERT INTO rollup_session_totals
  SELECT ${scope}, ${tenant}, session, sum(requests), sum(cost_micros), count(*), min(bucket),
    max(bucket) FROM rollup_sessions GROUP BY ${scope === 1 ? "tenant, " : ""}session;`,
).join("\n")}
-- Unqualified names: the function runs in the schema of the writer's search_path.
CREATE FUNCTION rollup_session_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO rollup_session_totals AS t VALUES
      (1, NEW.tenant, NEW.session, NEW.requests, NEW.cost_micros, 1, NEW.bucket, NEW.bucket),
      (0, '', NEW.session, NEW.requests, NEW.cost_micros, 1, NEW.bucket, NEW.bucket)
    ON CONFLICT (scope, tenant, session) DO UPDATE SET
      requests = t.requests + excluded.requests,
      cost_micros = t.cost_micros + excluded.cost_micros, row_count = t.row_count + 1,
      first_bucket = least(t.first_bucket, excluded.first_bucket),
      last_bucket = greatest(t.last_bucket, excluded.last_bucket);
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    UPDATE rollup_session_totals SET requests = requests + NEW.requests - OLD.requests,
      cost_micros = cost_micros + NEW.cost_micros - OLD.cost_micros
    WHERE (scope, tenant, session) IN ((1, NEW.tenant, NEW.session), (0, '', NEW.session));
    RETURN NULL;
  END IF;
  UPDATE rollup_session_totals SET requests = requests - OLD.requests,
    cost_micros = cost_micros - OLD.cost_micros, row_count = row_count - 1
  WHERE (scope, tenant, session) IN ((1, OLD.tenant, OLD.session), (0, '', OLD.session));
  RETURN NULL;
END
$fn$;
CREATE TRIGGER rollup_session_totals AFTER INSERT OR UPDATE OR DELETE ON rollup_sessions
  FOR EACH ROW EXECUTE FUNCTION rollup_session_totals_apply();
`,
};
