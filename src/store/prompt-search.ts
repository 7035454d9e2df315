import type { Migration } from "./migrations/migration.js";

/**
 * Search by prompt text (the list filter `prompt`): a case-insensitive substring match on the
 * tracker's "prompt" of a request, initialMessage else a string input.prompt. Without an index
 * it scans every row the other filters leave; these migrations give each store one.
 *
 * SQLite: an FTS5 table with the trigram tokenizer (case-folding), one row per request that
 * has a prompt, keyed by the request's rowid and kept in step by triggers, so every writer
 * (and a migration's backfill) goes through the same rule. A trigram query of 3 or more
 * characters matches substrings; shorter ones fall back to LIKE over the rows. A text with a rare
 * trigram reads only that trigram's rows from the index and checks them (sqlitePromptClause).
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
 * A phrase query for the whole text costs what its commonest trigram's list of rows costs
 * (every seeded prompt holds "topic ": at a million requests ~20 ms per query, and a list
 * runs it twice, for its page and its total). So the text's trigrams are probed first, each
 * counted up to RARE_CAP rows; when one is rarer than that, its rows are the candidates and
 * each is checked for the whole text (folded as FTS5's trigram tokenizer folds: `ftsFold`).
 * Text whose every trigram is common keeps the phrase query.
 */
const RARE_CAP = 2_000;
/** At most this many of a long text's trigrams are probed (spread over it). */
const PROBES = 16;

/**
 * Case folding as FTS5's trigram tokenizer does it (remove_diacritics 0): ASCII A-Z to
 * a-z, any other code point to its simple lower case (one code point), else unchanged.
 * Registered on the connection as `reqtrack_fold` (SqliteStore).
 */
export function ftsFold(text: string): string {
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (code < 128) {
      out += code >= 65 && code <= 90 ? String.fromCharCode(code + 32) : ch;
      continue;
    }
    const lower = ch.toLowerCase();
    out += lower.length === ch.length && [...lower].length === 1 ? lower : ch;
  }
  return out;
}

/** One FTS5 string (a phrase): double quotes are doubled, nothing else is syntax inside. */
const phrase = (text: string) => `"${text.replace(/"/g, '""')}"`;

/** Answers a MATCH query's row count, up to `cap` (the driver's prepared statement). */
export type MatchCounter = (match: string, cap: number) => number;

/**
 * The SQLite WHERE clause and parameters for "the prompt contains `text`" (case-insensitive,
 * wildcards taken literally). `like` is the caller's LIKE pattern for the short fallback;
 * `count` probes the index (see RARE_CAP).
 */
export function sqlitePromptClause(
  text: string,
  like: string,
  count?: MatchCounter,
): { sql: string; params: string[] } {
  const chars = [...text];
  if (chars.length < TRIGRAM)
    return { sql: `${sqlitePrompt("")} LIKE ? ESCAPE '\\'`, params: [like] };
  const whole = {
    sql: "rowid IN (SELECT rowid FROM request_prompts WHERE request_prompts MATCH ?)",
    params: [phrase(text)],
  };
  if (!count || chars.length === TRIGRAM) return whole;
  const windows = chars.length - TRIGRAM + 1;
  const step = Math.max(1, windows / PROBES);
  const seen = new Set<string>();
  let rarest: { trigram: string; rows: number } | null = null;
  for (let i = 0; i < windows && seen.size < PROBES; i = Math.ceil(i + step)) {
    const trigram = ftsFold(chars.slice(i, i + TRIGRAM).join(""));
    if (seen.has(trigram)) continue;
    seen.add(trigram);
    const rows = count(phrase(trigram), RARE_CAP);
    if (rows < RARE_CAP && (rarest === null || rows < rarest.rows)) rarest = { trigram, rows };
    if (rows === 0) break;
  }
  if (rarest === null) return whole;
  return {
    sql: `rowid IN (SELECT rowid FROM request_prompts WHERE request_prompts MATCH ?)
      AND instr(reqtrack_fold(${sqlitePrompt("")}), ?) > 0`,
    params: [phrase(rarest.trigram), ftsFold(text)],
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
