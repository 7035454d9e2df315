import type { Migration } from "./migrations/migration.js";

/**
 * Indexes for the request list's filters (migration 24, issue 14). A list page is the first
 * rows of `ORDER BY created_at DESC, id DESC` after the cursor's `(created_at, id)`; an index
 * on `(filter column, created_at, id)` hands them over in that order, so a page reads its 50
 * rows and no more, at any depth. The old `(column, created_at)` indexes could not: SQLite's
 * hidden rowid and PostgreSQL's ctid are not `id`, so every match was read and sorted
 * (status=failed at a million requests: 40,000 rows per page).
 *
 * Filters that the rollups cannot count (user, channel, session, source) end in `deleted_at`
 * as well, so a list's total (counted up to COUNT_CAP, see list-total.ts) reads the index
 * alone. Status, tenant and kind are counted from the rollups.
 *
 * The user's two indexes become one: `requests_user (user_id, created_at, id)` and the partial
 * `requests_user_history (user_id, created_at, id, status) WHERE deleted_at IS NULL` served the
 * same pages (with and without soft-deleted rows); `(user_id, created_at, id, status,
 * deleted_at)` serves both, and its counts with or without a status read the index alone.
 * Status stays near the end so a claim or completion rewrites its entry in place
 * (migration 12 of SQLite).
 *
 * The same statements run on both stores.
 */
const LIST_INDEXES = `
DROP INDEX IF EXISTS requests_status;
CREATE INDEX requests_status ON requests (status, created_at, id);
DROP INDEX IF EXISTS requests_kind;
CREATE INDEX requests_kind ON requests (kind, created_at, id) WHERE kind IS NOT NULL;
DROP INDEX IF EXISTS requests_channel;
CREATE INDEX requests_channel ON requests (channel_id, created_at, id, deleted_at)
  WHERE channel_id IS NOT NULL;
DROP INDEX IF EXISTS requests_session;
CREATE INDEX requests_session ON requests (session_id, created_at, id, deleted_at)
  WHERE session_id IS NOT NULL;
DROP INDEX IF EXISTS requests_source;
CREATE INDEX requests_source ON requests (source, created_at, id, deleted_at)
  WHERE source IS NOT NULL;
DROP INDEX IF EXISTS requests_user;
DROP INDEX IF EXISTS requests_user_history;
CREATE INDEX requests_user ON requests (user_id, created_at, id, status, deleted_at);
`;

export const SQLITE_LIST_INDEXES_MIGRATION: Migration = {
  version: 24,
  name: "list_indexes",
  up: LIST_INDEXES,
};

export const POSTGRES_LIST_INDEXES_MIGRATION: Migration = {
  version: 24,
  name: "list_indexes",
  up: LIST_INDEXES,
};
