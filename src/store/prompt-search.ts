import type { Migration } from "./migrations/migration.js";

/**
 * Search by prompt text (the list filter `prompt`): a case-insensitive substring match on the
 * tracker's "prompt" of a request, initialMessage else a string input.prompt. Without an index
 * it scans every row the other filters leave; these migrations give each store one.
 *
 * SQLite: an FTS5 table with the trigram tokenizer (case-folding), one row per request that
 * has a prompt, keyed by the request's rowid and kept in step by triggers, so every writer
 * (and a migration's backfill) goes through the same rule. A trigram query of 3 or more
 * characters matches substrings; shorter ones fall back to LIKE over the rows.
 *
 * PostgreSQL: a pg_trgm GIN index on the very expression the filter's ILIKE reads, so the
 * planner answers the ILIKE from the index; no query change. The operator class is looked up
 * in whichever schema holds the extension, since several reqtrack schemas share a database.
 */

/** The prompt of a requests row (`row` is new or old in a trigger, or the table itself). */
const sqlitePrompt = (row: string) => `coalesce(${row}initial_message,
  CASE WHEN json_type(${row}input, '$.prompt') = 'text' THEN json_extract(${row}input, '$.prompt') END)`;

export const SQLITE_PROMPT_SEARCH_MIGRATION: Migration = {
  version: 20,
  name: "prompt_search",
  up: `
CREATE VIRTUAL TABLE request_prompts USING fts5(prompt, tokenize = 'trigram');
INSERT INTO request_prompts (rowid, prompt)
  SELECT rowid, ${sqlitePrompt("")} FROM requests WHERE ${sqlitePrompt("")} IS NOT NULL;
CREATE TRIGGER request_prompts_insert AFTER INSERT ON requests
  WHEN ${sqlitePrompt("new.")} IS NOT NULL
BEGIN
  INSERT INTO request_prompts (rowid, prompt) VALUES (new.rowid, ${sqlitePrompt("new.")});
END;
CREATE TRIGGER request_prompts_update AFTER UPDATE OF initial_message, input ON requests
  WHEN ${sqlitePrompt("old.")} IS NOT ${sqlitePrompt("new.")}
BEGIN
  DELETE FROM request_prompts WHERE rowid = old.rowid;
  INSERT INTO request_prompts (rowid, prompt)
    SELECT new.rowid, ${sqlitePrompt("new.")} WHERE ${sqlitePrompt("new.")} IS NOT NULL;
END;
CREATE TRIGGER request_prompts_delete AFTER DELETE ON requests
BEGIN
  DELETE FROM request_prompts WHERE rowid = old.rowid;
END;
`,
};

/** Trigram queries need 3 characters (code points); shorter text cannot use the index. */
const TRIGRAM = 3;

/**
 * The SQLite WHERE clause and parameter for "the prompt contains `text`" (case-insensitive,
 * wildcards taken literally). `like` is the caller's LIKE pattern for the short fallback.
 */
export function sqlitePromptClause(text: string, like: string): { sql: string; param: string } {
  if ([...text].length < TRIGRAM)
    return { sql: `${sqlitePrompt("")} LIKE ? ESCAPE '\\'`, param: like };
  // One FTS5 string (a phrase): double quotes are doubled, nothing else is syntax inside.
  return {
    sql: "rowid IN (SELECT rowid FROM request_prompts WHERE request_prompts MATCH ?)",
    param: `"${text.replace(/"/g, '""')}"`,
  };
}

export const POSTGRES_PROMPT_SEARCH_MIGRATION: Migration = {
  version: 20,
  name: "prompt_search",
  up: `
-- One database, several schemas migrating at once: one creates the extension.
SELECT pg_advisory_xact_lock(hashtext('reqtrack.migrate:pg_trgm'));
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DO $$
DECLARE trgm_schema TEXT;
BEGIN
  SELECT extnamespace::regnamespace::text INTO trgm_schema FROM pg_extension
    WHERE extname = 'pg_trgm';
  EXECUTE format($index$CREATE INDEX requests_prompt_trgm ON requests USING gin (
    (coalesce(initial_message, CASE WHEN input IS NOT NULL
      AND jsonb_typeof(input::jsonb -> 'prompt') = 'string'
      THEN input::jsonb ->> 'prompt' END)) %I.gin_trgm_ops)$index$, trgm_schema);
END
$$;
`,
};
