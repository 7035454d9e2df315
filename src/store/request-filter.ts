import { ValidationError } from "../core/errors.js";
import type { RequestFilter } from "../core/types.js";
import { decodeCursor } from "./store.js";

/** What a driver's SQL spells its own way in a request list's WHERE. */
export interface FilterDialect {
  /** The placeholder of the `n`th parameter (from 1). */
  placeholder(n: number): string;
  /** `column` is one of `values`; `param` adds a parameter and returns its placeholder. */
  oneOf(column: string, values: readonly unknown[], param: (value: unknown) => string): string;
  /**
   * The request's prompt contains `text`, case-insensitively, wildcards taken literally (the
   * driver picks its index: see prompt-search.ts). The prompt is the tracker's (as in
   * promptCounts): initialMessage, else a string input.prompt.
   */
  promptContains(text: string, param: (value: unknown) => string): string;
}

/** The filter's equality fields and their columns. */
const EQUAL: readonly [keyof RequestFilter, string][] = [
  ["userId", "user_id"],
  ["tenantId", "tenant_id"],
  ["channelId", "channel_id"],
  ["sessionId", "session_id"],
  ["kind", "kind"],
  ["parentId", "parent_id"],
  ["source", "source"],
];

/**
 * The WHERE conditions of a request list, the same in every driver: `count` selects every
 * row the filter matches (the total), `page` adds the cursor's position (newest first, by
 * created_at then id, so a row comparison seeks straight to it in a (…, created_at, id)
 * index: page 1,000 costs what page 1 does). `params` are in the order of the conditions;
 * the first `countParams` of them are `count`'s.
 */
export function requestListWhere(
  filter: RequestFilter,
  dialect: FilterDialect,
): { count: string[]; page: string[]; params: unknown[]; countParams: number } {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return dialect.placeholder(params.length);
  };
  const where: string[] = [];
  if (!filter.includeDeleted) where.push("deleted_at IS NULL");
  if (filter.status !== undefined) {
    const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
    where.push(dialect.oneOf("status", statuses, param));
  }
  for (const [key, column] of EQUAL) {
    if (filter[key] !== undefined) where.push(`${column} = ${param(filter[key])}`);
  }
  if (filter.tag !== undefined) {
    where.push(`id IN (SELECT request_id FROM request_tags WHERE tag = ${param(filter.tag)})`);
  }
  if (filter.prompt !== undefined) {
    where.push(dialect.promptContains(filter.prompt, param));
  }
  if (filter.from !== undefined) where.push(`created_at >= ${param(filter.from.getTime())}`);
  if (filter.to !== undefined) where.push(`created_at < ${param(filter.to.getTime())}`);
  const count = [...where];
  const countParams = params.length;
  if (filter.cursor !== undefined) {
    const position = decodeCursor(filter.cursor);
    if (!position) throw new ValidationError("cursor", "is not a cursor this server issued");
    where.push(`(created_at, id) < (${param(position.createdAt)}, ${param(position.id)})`);
  }
  return { count, page: where, params, countParams };
}

/** ` WHERE a AND b`, or nothing when there are no conditions. */
export function whereClause(where: readonly string[]): string {
  return where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
}
