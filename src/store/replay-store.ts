import type { CostTotals, CostScope, TimeRange } from "./analytics-store.js";
import type { RequestStatus } from "../core/types.js";

/** What a bulk replay picks: requests matching all of these (soft-deleted ones never). */
export interface ReplayFilter {
  status?: RequestStatus[];
  kind?: string;
  tenantId?: string;
  /** createdAt >= from, < to (epoch ms). */
  from?: number;
  to?: number;
}

export type ReplayJobStatus = "running" | "completed" | "stopped";

/** A bulk replay as stored: its filter, settings and how far it got. */
export interface ReplayJobRow {
  id: string;
  filter: ReplayFilter;
  options: { ratePerSecond: number; fromStage?: string; tags?: string[] };
  status: ReplayJobStatus;
  total: number;
  done: number;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

/** One request a job replays, with the id its replay gets (chosen when the job starts). */
export interface ReplayItem {
  seq: number;
  requestId: string;
  replayId: string;
}

/**
 * Replays (`tracker.replay`, bulk replay jobs): the stages a replay reuses, the replays of a
 * request, the job tables, and replay costs for reports that leave replays out.
 */
export interface ReplayStore {
  /**
   * Copies the latest completed run of each stage in `names` from `fromId` to `toId`, marked
   * `reused_from`. Returns how many were copied. Written before the replay itself, so a
   * worker that claims the replay finds them.
   */
  copyStages(fromId: string, toId: string, names: readonly string[]): Promise<number>;
  /** Removes stages copied for `id` when no request `id` was created after all. */
  removeOrphanStages(id: string): Promise<void>;
  /** Replays of `id`, oldest first (soft-deleted ones left out). */
  listReplays(id: string): Promise<{ id: string; status: RequestStatus; createdAt: number }[]>;
  /** The ids of live requests matching `filter`, oldest first, at most `limit`. */
  matchingIds(filter: ReplayFilter, limit: number): Promise<string[]>;
  /** Stores a job and its items in one transaction. */
  createJob(job: ReplayJobRow, items: readonly ReplayItem[]): Promise<void>;
  getJob(id: string): Promise<ReplayJobRow | null>;
  listJobs(): Promise<ReplayJobRow[]>;
  /** Items not yet done, in order. */
  pendingItems(jobId: string, limit: number): Promise<ReplayItem[]>;
  /** Marks an item done and counts it in the job (once, however often it is called). */
  itemDone(jobId: string, seq: number, at: number): Promise<void>;
  setJobStatus(
    id: string,
    status: ReplayJobStatus,
    error: string | null,
    at: number,
  ): Promise<void>;
  /** Cost figures of the replays created in `range` (from their rows). */
  replayCostTotals(range: TimeRange, scope: CostScope, topSessions: number): Promise<CostTotals>;
}

export interface ReplayJobDbRow {
  id: string;
  filter: string;
  options: string;
  status: string;
  total: number;
  done: number;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export function fromJobRow(row: ReplayJobDbRow): ReplayJobRow {
  return {
    id: row.id,
    filter: JSON.parse(row.filter) as ReplayFilter,
    options: JSON.parse(row.options) as ReplayJobRow["options"],
    status: row.status as ReplayJobStatus,
    total: Number(row.total),
    done: Number(row.done),
    error: row.error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** The WHERE clause of a replay filter over `requests`, with `?` or `$n` placeholders. */
export function replayFilterWhere(
  filter: ReplayFilter,
  placeholder: (index: number) => string,
): { where: string; values: (string | number)[] } {
  const parts = ["deleted_at IS NULL"];
  const values: (string | number)[] = [];
  const add = (sql: (p: string) => string, value: string | number) => {
    values.push(value);
    parts.push(sql(placeholder(values.length)));
  };
  if (filter.status && filter.status.length > 0) {
    const marks = filter.status.map((s) => {
      values.push(s);
      return placeholder(values.length);
    });
    parts.push(`status IN (${marks.join(", ")})`);
  }
  if (filter.kind !== undefined) add((p) => `kind = ${p}`, filter.kind);
  if (filter.tenantId !== undefined) add((p) => `tenant_id = ${p}`, filter.tenantId);
  if (filter.from !== undefined) add((p) => `created_at >= ${p}`, filter.from);
  if (filter.to !== undefined) add((p) => `created_at < ${p}`, filter.to);
  return { where: parts.join(" AND "), values };
}

/** Rows of replay costs grouped by kind, tenant and session (one query), per service (another). */
export interface ReplayCostRow {
  kind: string | null;
  tenant: string | null;
  session: string | null;
  requests: number;
  costMicros: number;
}

/** Folds grouped replay rows into `CostTotals`. */
export function replayTotals(
  rows: readonly ReplayCostRow[],
  byService: CostTotals["byService"],
  top: number,
): CostTotals {
  const group = <K extends string | null>(key: (r: ReplayCostRow) => K) => {
    const out = new Map<K, { requests: number; costMicros: number }>();
    for (const r of rows) {
      const cell = out.get(key(r)) ?? { requests: 0, costMicros: 0 };
      cell.requests += Number(r.requests);
      cell.costMicros += Number(r.costMicros);
      out.set(key(r), cell);
    }
    return out;
  };
  const sessions = [...group((r) => r.session).entries()]
    .filter(([s]) => s !== null)
    .map(([sessionId, v]) => ({ sessionId: sessionId as string, ...v }))
    .sort((a, b) => b.costMicros - a.costMicros);
  const rest = sessions.slice(top);
  return {
    requests: rows.reduce((n, r) => n + Number(r.requests), 0),
    costMicros: rows.reduce((n, r) => n + Number(r.costMicros), 0),
    byService: byService.map((s) => ({
      service: s.service,
      records: Number(s.records),
      costMicros: Number(s.costMicros),
    })),
    byKind: [...group((r) => r.kind).entries()].map(([kind, v]) => ({ kind, ...v })),
    byTenant: [...group((r) => r.tenant).entries()].map(([tenantId, v]) => ({ tenantId, ...v })),
    topSessions: sessions.slice(0, top),
    otherSessions: {
      sessions: rest.length,
      requests: rest.reduce((n, s) => n + s.requests, 0),
      costMicros: rest.reduce((n, s) => n + s.costMicros, 0),
    },
  };
}
