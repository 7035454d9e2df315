import type { Cost, Page, Request, RequestEvent, RequestRecord, Stage } from "../core/types.js";

/**
 * JSON carries times as ISO-8601 strings; the library's types carry `Date`s. These turn the
 * server's answers back into the library's shapes. Only the named time fields are converted:
 * a string inside `input` or `result` stays a string, whatever it looks like.
 */
const RECORD_DATES = [
  "leaseExpiresAt",
  "deadline",
  "createdAt",
  "startedAt",
  "completedAt",
  "updatedAt",
  "deletedAt",
] as const;
const STAGE_DATES = ["startedAt", "completedAt"] as const;

type Json = Record<string, unknown>;

export function reviveRecord(raw: unknown): RequestRecord {
  return dates(raw as Json, RECORD_DATES) as unknown as RequestRecord;
}

export function reviveRequest(raw: unknown): Request {
  const record = dates(raw as Json, RECORD_DATES);
  return {
    ...record,
    stages: ((record.stages as Json[] | undefined) ?? []).map(
      (stage) => dates(stage, STAGE_DATES) as unknown as Stage,
    ),
    costs: ((record.costs as Json[] | undefined) ?? []).map(
      (cost) => dates(cost, ["ts"]) as unknown as Cost,
    ),
  } as unknown as Request;
}

export function reviveEvent(raw: unknown): RequestEvent {
  return dates(raw as Json, ["ts"]) as unknown as RequestEvent;
}

export function revivePage(raw: unknown): Page<RequestRecord> {
  const page = raw as { items?: unknown[]; total?: number; nextCursor?: string | null };
  return {
    items: (page.items ?? []).map(reviveRecord),
    total: page.total ?? 0,
    nextCursor: page.nextCursor ?? null,
  };
}

function dates(raw: Json, keys: readonly string[]): Json {
  const out: Json = { ...raw };
  for (const key of keys) {
    const value = out[key];
    if (typeof value === "string" || typeof value === "number") out[key] = new Date(value);
  }
  return out;
}
