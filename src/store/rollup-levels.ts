import { GRAIN_MS } from "./analytics-store.js";

/**
 * The rollup levels (migration 10). Each level keeps some dimensions at one time grain, so
 * every stats query reads one small slice: the last day's hours per kind, a month of days per
 * tenant and kind, the last hours' minutes. Keys start with (level, bucket), so live traffic
 * writes into the few pages of the current buckets however many tenants it comes from, and
 * a query reads a contiguous range of buckets. A level that keeps all tenants together
 * (tenant '') costs writers almost nothing, because a batch's requests share its few rows.
 *
 * Within a level, '' in a kept dimension means "none" (ids are never empty); a dimension
 * the level does not keep is always ''.
 */
export interface RequestLevel {
  id: number;
  grainMs: number;
  tenant: boolean;
  kind: boolean;
  source: boolean;
  /** "full": counts, durations, queue and sketches; "counts": no queue or sketches. */
  parts: "full" | "counts";
}

const HOUR = GRAIN_MS.hour;
const DAY = GRAIN_MS.day;

export const LEVEL = {
  /** hour x tenant: tenant-filtered overview, timeseries. */
  tenantHour: { id: 1, grainMs: HOUR, tenant: true, kind: false, source: false, parts: "full" },
  /** hour x kind, all tenants: unfiltered and kind-filtered queries. */
  kindHour: { id: 2, grainMs: HOUR, tenant: false, kind: true, source: false, parts: "full" },
  /** minute, everything together: minute timeseries. */
  minute: {
    id: 3,
    grainMs: GRAIN_MS.minute,
    tenant: false,
    kind: false,
    source: false,
    parts: "full",
  },
  /** day x tenant x kind: tenant group statistics, cost reports per tenant and per kind. */
  tenantKindDay: { id: 4, grainMs: DAY, tenant: true, kind: true, source: false, parts: "counts" },
  /** day x source: group statistics by source. */
  sourceDay: { id: 5, grainMs: DAY, tenant: false, kind: false, source: true, parts: "counts" },
  /**
   * day, everything together (migration 18): the days of 7 d and 30 d windows and day series,
   * and list totals; one row a day, where level 2 holds 24 x kinds.
   */
  allDay: { id: 7, grainMs: DAY, tenant: false, kind: false, source: false, parts: "full" },
  /** day x tenant (migration 18): the same for one tenant, and costs per tenant. */
  tenantDay: { id: 8, grainMs: DAY, tenant: true, kind: false, source: false, parts: "full" },
} as const satisfies Record<string, RequestLevel>;

export const REQUEST_LEVELS: readonly RequestLevel[] = Object.values(LEVEL);

/**
 * Stage rollups: hour x tenant (level 1), hour x kind (level 2) and minute x kind (level 3,
 * migration 18: the edges of an exact rolling window), each per stage name. A tenant-and-kind
 * filter reads that tenant's rows instead: keeping tenant x kind x stage per hour would hold
 * nearly as many rows as the stages table.
 */
export const STAGE_LEVEL = {
  tenantHour: { id: 1, grainMs: HOUR, tenant: true, kind: false },
  kindHour: { id: 2, grainMs: HOUR, tenant: false, kind: true },
  kindMinute: { id: 3, grainMs: GRAIN_MS.minute, tenant: false, kind: true },
} as const satisfies Record<string, StageLevel>;

export interface StageLevel {
  id: number;
  grainMs: number;
  tenant: boolean;
  kind: boolean;
}

export const STAGE_LEVELS: readonly StageLevel[] = Object.values(STAGE_LEVEL);

/** Cost-by-service rollups: per tenant and all tenants (level 6), by UTC day. */
export const COST_LEVEL = { tenantDay: 4, allDay: 6 } as const;

/** Start of the grain bucket holding `ms`. */
export function bucketOf(ms: number, grainMs: number): number {
  return Math.floor(ms / grainMs) * grainMs;
}
