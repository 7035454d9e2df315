import { appendFileSync, closeSync, fdatasyncSync, openSync } from "node:fs";

/** One line an outbox could not replay, with why. */
export interface AsideEntry {
  /** "unreadable" (not JSON), "partial" (cut off by a crash), or the store's error code. */
  reason: string;
  line: string;
}

/** Where an outbox at `path` keeps what it cannot replay: beside it, never deleted by reqtrack. */
export const asidePath = (path: string): string => `${path}.rejected.ndjson`;

/**
 * Appends `entries` to the outbox's rejected file (one JSON object a line, with the time,
 * the reason and the original line) and fsyncs it, so that a line an outbox cannot replay is
 * never dropped silently: an operator can read it, fix it and feed it back. Returns the path.
 */
export function keepAside(path: string, entries: readonly AsideEntry[], now = Date.now()): string {
  const file = asidePath(path);
  if (entries.length === 0) return file;
  let text = "";
  for (const entry of entries) text += `${JSON.stringify({ at: now, ...entry })}\n`;
  appendFileSync(file, text);
  const fd = openSync(file, "r+");
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return file;
}
