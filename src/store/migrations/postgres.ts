import { POSTGRES_PROMPT_SEARCH_MIGRATION } from "../prompt-search.js";
import { POSTGRES_DASHBOARD_MIGRATIONS } from "./dashboard.js";
import type { Migration } from "./migration.js";

/**
 * PostgreSQL schema, version for version the SQLite one (sqlite.ts) where both have it. Times
 * are BIGINT epoch ms and money BIGINT micro-USD (the pool reads int8 as a JS number); JSON
 * stays text, exactly as written, so rows map through the same rows.ts as SQLite's.
 * Sketches are jsonb (`{"<bucket key>": count}`, core/sketch.ts): plain SQL merges them.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial",
    up: `
CREATE TABLE requests (
  id               TEXT PRIMARY KEY,
  status           TEXT NOT NULL,
  priority         DOUBLE PRECISION NOT NULL,
  lane             TEXT NOT NULL,
  user_id          TEXT NOT NULL,
  channel_id       TEXT,
  tenant_id        TEXT,
  session_id       TEXT,
  kind             TEXT,
  source           TEXT,
  tags             TEXT NOT NULL DEFAULT '[]',
  initial_message  TEXT,
  input            TEXT,
  intent           TEXT,
  entities         TEXT,
  parent_id        TEXT,
  correlation_id   TEXT,
  result           TEXT,
  error_message    TEXT,
  error_stage      TEXT,
  error_details    TEXT,
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  timeout_ms       BIGINT NOT NULL,
  worker_id        TEXT,
  lease_expires_at BIGINT,
  deadline_at      BIGINT,
  created_at       BIGINT NOT NULL,
  started_at       BIGINT,
  completed_at     BIGINT,
  updated_at       BIGINT NOT NULL,
  deleted_at       BIGINT,
  queue_ms         BIGINT,
  duration_ms      BIGINT,
  cost_micros      BIGINT NOT NULL DEFAULT 0,
  counters         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX requests_created ON requests (created_at, id);
CREATE INDEX requests_user ON requests (user_id, created_at, id);
CREATE INDEX requests_status ON requests (status, created_at);
CREATE INDEX requests_tenant ON requests (tenant_id, created_at, id) WHERE tenant_id IS NOT NULL;
CREATE INDEX requests_channel ON requests (channel_id, created_at) WHERE channel_id IS NOT NULL;
CREATE INDEX requests_session ON requests (session_id, created_at) WHERE session_id IS NOT NULL;
CREATE INDEX requests_kind ON requests (kind, created_at) WHERE kind IS NOT NULL;

CREATE TABLE request_tags (
  tag        TEXT NOT NULL,
  request_id TEXT NOT NULL,
  PRIMARY KEY (tag, request_id)
);

CREATE TABLE stages (
  request_id    TEXT NOT NULL,
  name          TEXT NOT NULL,
  attempt       INTEGER NOT NULL,
  status        TEXT NOT NULL,
  started_at    BIGINT NOT NULL,
  completed_at  BIGINT,
  duration_ms   BIGINT,
  output        TEXT,
  error_message TEXT,
  error_details TEXT,
  retryable     BOOLEAN,
  PRIMARY KEY (request_id, name, attempt)
);

CREATE TABLE events (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id TEXT NOT NULL,
  ts         BIGINT NOT NULL,
  type       TEXT NOT NULL,
  stage      TEXT,
  severity   TEXT NOT NULL,
  message    TEXT NOT NULL,
  data       TEXT
);
CREATE INDEX events_request ON events (request_id, id);

CREATE TABLE costs (
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id    TEXT NOT NULL,
  ts            BIGINT NOT NULL,
  service       TEXT NOT NULL,
  amount_micros BIGINT NOT NULL,
  usage         TEXT,
  stage         TEXT
);
CREATE INDEX costs_request ON costs (request_id);

CREATE TABLE applied_ops (
  op_id      TEXT PRIMARY KEY,
  applied_at BIGINT NOT NULL
);
`,
  },
  {
    version: 2,
    name: "queue",
    // As in SQLite: partial indexes hold the queue, not the history, in claim order (lane,
    // deadline with none last, age), so a claim's SKIP LOCKED scan starts at the right row.
    up: `
ALTER TABLE requests ADD COLUMN lease_ms BIGINT;
ALTER TABLE requests ADD COLUMN lane_at BIGINT;
UPDATE requests SET lane_at = created_at;
CREATE INDEX requests_pending ON requests
  (lane, (coalesce(deadline_at, 9007199254740991)), created_at)
  WHERE status = 'pending' AND deleted_at IS NULL;
CREATE INDEX requests_pending_kind ON requests
  (kind, lane, (coalesce(deadline_at, 9007199254740991)), created_at)
  WHERE status = 'pending' AND deleted_at IS NULL;
CREATE INDEX requests_leases ON requests (lease_expires_at) WHERE status = 'running';
CREATE INDEX requests_run_deadline ON requests ((started_at + timeout_ms))
  WHERE status = 'running';
CREATE INDEX requests_deadline ON requests (deadline_at)
  WHERE status = 'pending' AND deadline_at IS NOT NULL;
`,
  },
  {
    version: 3,
    name: "api_keys",
    // Only the SHA-256 of a key's secret is stored; the secret is shown once, at creation.
    up: `
CREATE TABLE api_keys (
  id         TEXT PRIMARY KEY,
  name       TEXT,
  hash       TEXT NOT NULL UNIQUE,
  role       TEXT NOT NULL,
  tenant_id  TEXT,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);
`,
  },
  {
    version: 4,
    name: "tenant_claims",
    // Workers with a tenant-scoped key claim only their tenant's requests.
    up: `
CREATE INDEX requests_pending_tenant ON requests
  (tenant_id, lane, (coalesce(deadline_at, 9007199254740991)), created_at)
  WHERE status = 'pending' AND deleted_at IS NULL AND tenant_id IS NOT NULL;
`,
  },
  {
    version: 10,
    name: "analytics_rollups",
    // The rollups of SQLite's migration 10 (src/store/rollup-levels.ts says what each level
    // keeps), kept in the write transaction by postgres-rollups.ts. Deltas are written with
    // one multi-row upsert per table; reqtrack_sketch_merge adds a delta's sketch bucket by
    // bucket. The rebuild marker makes the first store to open the schema fill the rollups
    // from rows written before they existed.
    up: `
CREATE FUNCTION reqtrack_sketch_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_object_agg(key, n) FROM (
    SELECT key, sum(value::bigint) AS n
    FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) AS e
    GROUP BY key HAVING sum(value::bigint) <> 0) AS merged
$$;

CREATE TABLE rollup_requests (
  level        SMALLINT NOT NULL,
  tenant       TEXT NOT NULL,
  bucket       BIGINT NOT NULL,
  kind         TEXT NOT NULL,
  source       TEXT NOT NULL,
  requests     BIGINT NOT NULL DEFAULT 0,
  pending      BIGINT NOT NULL DEFAULT 0,
  running      BIGINT NOT NULL DEFAULT 0,
  completed    BIGINT NOT NULL DEFAULT 0,
  failed       BIGINT NOT NULL DEFAULT 0,
  timeout      BIGINT NOT NULL DEFAULT 0,
  cancelled    BIGINT NOT NULL DEFAULT 0,
  duration_sum BIGINT NOT NULL DEFAULT 0,
  queue_count  BIGINT NOT NULL DEFAULT 0,
  queue_sum    BIGINT NOT NULL DEFAULT 0,
  cost_micros  BIGINT NOT NULL DEFAULT 0,
  latency      JSONB,
  queue        JSONB,
  PRIMARY KEY (level, bucket, tenant, kind, source)
);

CREATE TABLE rollup_stages (
  level        SMALLINT NOT NULL,
  tenant       TEXT NOT NULL,
  bucket       BIGINT NOT NULL,
  kind         TEXT NOT NULL,
  stage        TEXT NOT NULL,
  completed    BIGINT NOT NULL DEFAULT 0,
  failed       BIGINT NOT NULL DEFAULT 0,
  duration_sum BIGINT NOT NULL DEFAULT 0,
  durations    JSONB,
  PRIMARY KEY (level, bucket, tenant, kind, stage)
);

CREATE TABLE rollup_costs (
  level       SMALLINT NOT NULL,
  tenant      TEXT NOT NULL,
  bucket      BIGINT NOT NULL,
  service     TEXT NOT NULL,
  records     BIGINT NOT NULL DEFAULT 0,
  cost_micros BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (level, bucket, tenant, service)
);

CREATE TABLE rollup_sessions (
  bucket      BIGINT NOT NULL,
  tenant      TEXT NOT NULL,
  session     TEXT NOT NULL,
  requests    BIGINT NOT NULL DEFAULT 0,
  cost_micros BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, tenant, session)
);

CREATE TABLE rollup_state (
  key   TEXT PRIMARY KEY,
  value TEXT
);
INSERT INTO rollup_state (key, value) VALUES ('rebuild', NULL);

-- Group statistics by source read the top prompts of that source's requests.
CREATE INDEX requests_source ON requests (source, created_at) WHERE source IS NOT NULL;
`,
  },
  {
    version: 11,
    name: "analytics_tenant_indexes",
    // One tenant's rollup rows without reading every other tenant's (keys lead with the time
    // bucket).
    up: `
CREATE INDEX rollup_requests_tenant ON rollup_requests (level, tenant, bucket);
CREATE INDEX rollup_stages_tenant ON rollup_stages (level, tenant, bucket);
`,
  },
  {
    version: 13,
    name: "applied_ops_time",
    // Op ids are remembered for a dedupe window, then pruned daily by the watchdog.
    up: `
CREATE INDEX applied_ops_time ON applied_ops (applied_at);
`,
  },
  {
    version: 14,
    name: "claim_order_by_id",
    // Claims order by (deadline, created_at, id); without id in the queue indexes PostgreSQL
    // sorted every pending row of the lane to break ties on created_at (15 ms a claim at 25k
    // pending). With it, a claim reads the first rows of the index and stops.
    up: `
DROP INDEX requests_pending;
DROP INDEX requests_pending_kind;
DROP INDEX requests_pending_tenant;
CREATE INDEX requests_pending ON requests
  (lane, (coalesce(deadline_at, 9007199254740991)), created_at, id)
  WHERE status = 'pending' AND deleted_at IS NULL;
CREATE INDEX requests_pending_kind ON requests
  (kind, lane, (coalesce(deadline_at, 9007199254740991)), created_at, id)
  WHERE status = 'pending' AND deleted_at IS NULL;
CREATE INDEX requests_pending_tenant ON requests
  (tenant_id, lane, (coalesce(deadline_at, 9007199254740991)), created_at, id)
  WHERE status = 'pending' AND deleted_at IS NULL AND tenant_id IS NOT NULL;
`,
  },
  {
    version: 15,
    name: "user_history",
    // SQLite's user-history index (its migrations 10 and 12): a page of one user's history
    // is the first rows of this index, newest first, instead of a sort of all the user's
    // rows, and the total (with or without a status filter) is counted from it alone.
    up: `
CREATE INDEX requests_user_history ON requests (user_id, created_at, id, status)
  WHERE deleted_at IS NULL;
`,
  },
  {
    version: 16,
    name: "budgets",
    // Cost budgets (tracker.budgets) and the thresholds each has alerted in a period.
    up: `
CREATE TABLE budgets (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  tenant_id     TEXT,
  user_id       TEXT,
  session_id    TEXT,
  kind          TEXT,
  service       TEXT,
  period        TEXT NOT NULL,
  rolling       BOOLEAN NOT NULL,
  amount_micros BIGINT NOT NULL,
  thresholds    TEXT NOT NULL,
  mode          TEXT NOT NULL,
  webhook_url   TEXT,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);
CREATE TABLE budget_alerts (
  budget_id  TEXT NOT NULL,
  period_key TEXT NOT NULL,
  threshold  INTEGER NOT NULL,
  fired_at   BIGINT NOT NULL,
  PRIMARY KEY (budget_id, period_key, threshold)
);
-- A budget's spend is the costs recorded in its period: read by time, not by request.
CREATE INDEX costs_ts ON costs (ts);
`,
  },
  {
    version: 17,
    name: "parent_index",
    up: `
-- Children of a request (listRequests({ parentId })), newest first like every list.
CREATE INDEX requests_parent ON requests (parent_id, created_at, id) WHERE parent_id IS NOT NULL;
`,
  },
  {
    version: 18,
    name: "estimates_prices_replays",
    up: `
-- Issue 15: estimates, the price table, replays. Columns added to existing tables are
-- nullable (old rows: no estimate, not a replay, not reused, no price).
ALTER TABLE requests ADD COLUMN estimated_cost_micros BIGINT;
ALTER TABLE requests ADD COLUMN replay_of TEXT;
ALTER TABLE stages ADD COLUMN reused_from TEXT;
ALTER TABLE costs ADD COLUMN price TEXT;
-- The replays of a request (GET /requests/:id lists them), oldest first.
CREATE INDEX requests_replay_of ON requests (replay_of, created_at, id) WHERE replay_of IS NOT NULL;
-- What enforce budgets hold back: estimates of requests not yet finished.
CREATE INDEX requests_estimated ON requests (tenant_id)
  WHERE estimated_cost_micros IS NOT NULL AND status IN ('pending', 'running');
-- Prices per service and model (or glob pattern), in micro-USD per million units, each in
-- force from effective_from until a later version of the same service and model.
CREATE TABLE prices (
  id                  TEXT PRIMARY KEY,
  service             TEXT NOT NULL,
  model               TEXT NOT NULL,
  input_micros_per_m  BIGINT,
  output_micros_per_m BIGINT,
  unit_micros_per_m   BIGINT,
  unit                TEXT,
  effective_from      BIGINT NOT NULL,
  created_at          BIGINT NOT NULL,
  UNIQUE (service, model, effective_from)
);
-- A bulk replay: its filter, and the requests it picked (each with the id its replay gets,
-- chosen up front, so that a resumed job never replays one twice).
CREATE TABLE replay_jobs (
  id          TEXT PRIMARY KEY,
  filter      TEXT NOT NULL,
  options     TEXT NOT NULL,
  status      TEXT NOT NULL,
  total       INTEGER NOT NULL,
  done        INTEGER NOT NULL,
  error       TEXT,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);
CREATE TABLE replay_job_items (
  job_id     TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  replay_id  TEXT NOT NULL,
  done_at    BIGINT,
  PRIMARY KEY (job_id, seq)
);
`,
  },
  {
    version: 19,
    name: "rolling_windows",
    // New rollup levels (rollup-levels.ts): stages per minute and kind (stage level 3), so the
    // edges of an exact rolling window read minutes, not rows; requests per day for all
    // tenants (7) and per tenant (8), so 30-day windows read 30 rows, not 720 x kinds. The
    // rebuild marker fills them from the rows already stored the first time a store opens
    // the database. Soft-deleted requests get a partial index: list totals come from the
    // rollups, which count them, less the deleted matches (few).
    up: `
INSERT INTO rollup_state (key, value) VALUES ('rebuild', NULL) ON CONFLICT (key) DO NOTHING;
CREATE INDEX requests_deleted ON requests (created_at) WHERE deleted_at IS NOT NULL;
`,
  },
  POSTGRES_PROMPT_SEARCH_MIGRATION,
  ...POSTGRES_DASHBOARD_MIGRATIONS,
];
