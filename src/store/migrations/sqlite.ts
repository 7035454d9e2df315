import { SQLITE_PROMPT_SEARCH_MIGRATION } from "../prompt-search.js";
import { SQLITE_DASHBOARD_MIGRATIONS } from "./dashboard.js";
import type { Migration } from "./migration.js";

/**
 * SQLite schema. Times are integer epoch ms, money integer micro-USD, JSON as text.
 * Optional scopes get partial indexes so requests without them cost no index write.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial",
    up: `
CREATE TABLE requests (
  id               TEXT PRIMARY KEY,
  status           TEXT NOT NULL,
  priority         REAL NOT NULL,
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
  timeout_ms       INTEGER NOT NULL,
  worker_id        TEXT,
  lease_expires_at INTEGER,
  deadline_at      INTEGER,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  completed_at     INTEGER,
  updated_at       INTEGER NOT NULL,
  deleted_at       INTEGER,
  queue_ms         INTEGER,
  duration_ms      INTEGER,
  cost_micros      INTEGER NOT NULL DEFAULT 0,
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
) WITHOUT ROWID;

CREATE TABLE stages (
  request_id    TEXT NOT NULL,
  name          TEXT NOT NULL,
  attempt       INTEGER NOT NULL,
  status        TEXT NOT NULL,
  started_at    INTEGER NOT NULL,
  completed_at  INTEGER,
  duration_ms   INTEGER,
  output        TEXT,
  error_message TEXT,
  error_details TEXT,
  retryable     INTEGER,
  PRIMARY KEY (request_id, name, attempt)
) WITHOUT ROWID;

CREATE TABLE events (
  id         INTEGER PRIMARY KEY,
  request_id TEXT NOT NULL,
  ts         INTEGER NOT NULL,
  type       TEXT NOT NULL,
  stage      TEXT,
  severity   TEXT NOT NULL,
  message    TEXT NOT NULL,
  data       TEXT
);
CREATE INDEX events_request ON events (request_id, id);

CREATE TABLE costs (
  id            INTEGER PRIMARY KEY,
  request_id    TEXT NOT NULL,
  ts            INTEGER NOT NULL,
  service       TEXT NOT NULL,
  amount_micros INTEGER NOT NULL,
  usage         TEXT,
  stage         TEXT
);
CREATE INDEX costs_request ON costs (request_id);

CREATE TABLE applied_ops (
  op_id      TEXT PRIMARY KEY,
  applied_at INTEGER NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    version: 2,
    name: "queue",
    // Claims read only pending rows, in lane order then deadline (none last) then age, so the
    // pending indexes are partial: they hold the queue, not the history. The watchdog's
    // lookups (expired leases, run timeouts, passed deadlines) get small partial indexes too.
    up: `
ALTER TABLE requests ADD COLUMN lease_ms INTEGER;
ALTER TABLE requests ADD COLUMN lane_at INTEGER;
UPDATE requests SET lane_at = created_at;
CREATE INDEX requests_pending ON requests
  (lane, coalesce(deadline_at, 9007199254740991), created_at)
  WHERE status = 'pending' AND deleted_at IS NULL;
CREATE INDEX requests_pending_kind ON requests
  (kind, lane, coalesce(deadline_at, 9007199254740991), created_at)
  WHERE status = 'pending' AND deleted_at IS NULL;
CREATE INDEX requests_leases ON requests (lease_expires_at) WHERE status = 'running';
CREATE INDEX requests_run_deadline ON requests (started_at + timeout_ms) WHERE status = 'running';
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
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
`,
  },
  {
    version: 4,
    name: "tenant_claims",
    // Workers with a tenant-scoped key claim only their tenant's requests.
    up: `
CREATE INDEX requests_pending_tenant ON requests
  (tenant_id, lane, coalesce(deadline_at, 9007199254740991), created_at)
  WHERE status = 'pending' AND deleted_at IS NULL AND tenant_id IS NOT NULL;
`,
  },
  {
    version: 10,
    name: "analytics_rollups",
    // Rollups for stats and cost reports (src/store/rollup-levels.ts says what each
    // level keeps), updated in the write transaction by sqlite-rollups.ts. Keys lead with the
    // time bucket so live writes stay in a few pages. Empty strings stand for "none" or "all"
    // in key columns. The rebuild marker makes the first store to open the database fill
    // them from the rows it already holds.
    up: `
CREATE TABLE rollup_requests (
  level        INTEGER NOT NULL,
  tenant       TEXT NOT NULL,
  bucket       INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  source       TEXT NOT NULL,
  requests     INTEGER NOT NULL DEFAULT 0,
  pending      INTEGER NOT NULL DEFAULT 0,
  running      INTEGER NOT NULL DEFAULT 0,
  completed    INTEGER NOT NULL DEFAULT 0,
  failed       INTEGER NOT NULL DEFAULT 0,
  timeout      INTEGER NOT NULL DEFAULT 0,
  cancelled    INTEGER NOT NULL DEFAULT 0,
  duration_sum INTEGER NOT NULL DEFAULT 0,
  queue_count  INTEGER NOT NULL DEFAULT 0,
  queue_sum    INTEGER NOT NULL DEFAULT 0,
  cost_micros  INTEGER NOT NULL DEFAULT 0,
  latency      BLOB,
  queue        BLOB,
  PRIMARY KEY (level, bucket, tenant, kind, source)
) WITHOUT ROWID;

CREATE TABLE rollup_stages (
  level        INTEGER NOT NULL,
  tenant       TEXT NOT NULL,
  bucket       INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  stage        TEXT NOT NULL,
  completed    INTEGER NOT NULL DEFAULT 0,
  failed       INTEGER NOT NULL DEFAULT 0,
  duration_sum INTEGER NOT NULL DEFAULT 0,
  durations    BLOB,
  PRIMARY KEY (level, bucket, tenant, kind, stage)
) WITHOUT ROWID;

CREATE TABLE rollup_costs (
  level       INTEGER NOT NULL,
  tenant      TEXT NOT NULL,
  bucket      INTEGER NOT NULL,
  service     TEXT NOT NULL,
  records     INTEGER NOT NULL DEFAULT 0,
  cost_micros INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (level, bucket, tenant, service)
) WITHOUT ROWID;

CREATE TABLE rollup_sessions (
  bucket      INTEGER NOT NULL,
  tenant      TEXT NOT NULL,
  session     TEXT NOT NULL,
  requests    INTEGER NOT NULL DEFAULT 0,
  cost_micros INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, tenant, session)
) WITHOUT ROWID;

CREATE TABLE rollup_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO rollup_state (key, value) VALUES ('rebuild', 1);

-- Group statistics by source read the top prompts of that source's requests.
CREATE INDEX requests_source ON requests (source, created_at) WHERE source IS NOT NULL;
-- User history (seed 001: under 100 ms at 10,000 requests; our goal 2 ms): counts with and
-- without a status filter come from this index alone, and a status-filtered page seeks to
-- its cursor in it.
CREATE INDEX requests_user_history ON requests (user_id, status, created_at, id)
  WHERE deleted_at IS NULL;
`,
  },
  {
    version: 11,
    name: "analytics_tenant_indexes",
    // One tenant's rollup rows without reading every other tenant's (their keys lead with the
    // time bucket). Keys never change, so writers touch these only when a new row appears.
    up: `
CREATE INDEX rollup_requests_tenant ON rollup_requests (level, tenant, bucket);
CREATE INDEX rollup_stages_tenant ON rollup_stages (level, tenant, bucket);
`,
  },
  {
    version: 12,
    name: "user_history_by_time",
    // Status moved to the end of the user-history key: a claim or completion then rewrites
    // its entry in place instead of moving it to another status range of the user, which
    // dirtied many more pages per commit (bench/queue: about +45% drain throughput). Status
    // filters and counts still read only this index.
    up: `
DROP INDEX requests_user_history;
CREATE INDEX requests_user_history ON requests (user_id, created_at, id, status)
  WHERE deleted_at IS NULL;
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
  rolling       INTEGER NOT NULL,
  amount_micros INTEGER NOT NULL,
  thresholds    TEXT NOT NULL,
  mode          TEXT NOT NULL,
  webhook_url   TEXT,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE TABLE budget_alerts (
  budget_id  TEXT NOT NULL,
  period_key TEXT NOT NULL,
  threshold  INTEGER NOT NULL,
  fired_at   INTEGER NOT NULL,
  PRIMARY KEY (budget_id, period_key, threshold)
);
-- A budget's spend is the costs recorded in its period: read by time, not by request.
CREATE INDEX costs_ts ON costs (ts);
`,
  },
  {
    version: 15,
    name: "parent_index",
    up: `
-- Children of a request (listRequests({ parentId })), newest first like every list.
CREATE INDEX requests_parent ON requests (parent_id, created_at, id) WHERE parent_id IS NOT NULL;
`,
  },
  {
    version: 16,
    name: "estimates_prices_replays",
    up: `
-- Issue 15: estimates, the price table, replays. Columns added to existing tables are
-- nullable (old rows: no estimate, not a replay, not reused, no price).
ALTER TABLE requests ADD COLUMN estimated_cost_micros INTEGER;
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
  input_micros_per_m  INTEGER,
  output_micros_per_m INTEGER,
  unit_micros_per_m   INTEGER,
  unit                TEXT,
  effective_from      INTEGER NOT NULL,
  created_at          INTEGER NOT NULL,
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
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE TABLE replay_job_items (
  job_id     TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  replay_id  TEXT NOT NULL,
  done_at    INTEGER,
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
INSERT OR IGNORE INTO rollup_state (key, value) VALUES ('rebuild', 1);
CREATE INDEX requests_deleted ON requests (created_at) WHERE deleted_at IS NOT NULL;
`,
  },
  SQLITE_PROMPT_SEARCH_MIGRATION,
  ...SQLITE_DASHBOARD_MIGRATIONS,
];
