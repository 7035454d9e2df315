import type { JsonValue, Request } from "../core/types.js";

const usd = (micros: number) => micros / 1_000_000;

/** One side of a comparison. */
export interface CompareSide {
  id: string;
  replayOf: string | null;
  status: Request["status"];
  createdAt: Date;
  durationMs: number | null;
  costUsd: number;
  costByService: Record<string, number>;
  result: JsonValue | null;
  errorMessage: string | null;
  stages: { name: string; status: string; durationMs: number | null; reused: boolean }[];
}

/** Two requests side by side (an original and its replay, typically). */
export interface Comparison {
  left: CompareSide;
  right: CompareSide;
  /** right minus left. */
  durationDeltaMs: number | null;
  costDeltaUsd: number;
  sameStatus: boolean;
  sameResult: boolean;
}

/** `left` and `right` side by side, with what changed from one to the other. */
export function compareRequests(left: Request, right: Request): Comparison {
  const a = side(left);
  const b = side(right);
  return {
    left: a,
    right: b,
    durationDeltaMs:
      a.durationMs === null || b.durationMs === null ? null : b.durationMs - a.durationMs,
    costDeltaUsd: usd(
      right.costs.reduce((n, c) => n + c.amountMicros, 0) -
        left.costs.reduce((n, c) => n + c.amountMicros, 0),
    ),
    sameStatus: a.status === b.status,
    sameResult: JSON.stringify(a.result) === JSON.stringify(b.result),
  };
}

function side(r: Request): CompareSide {
  const byService: Record<string, number> = {};
  for (const c of r.costs) byService[c.service] = (byService[c.service] ?? 0) + c.amountMicros;
  return {
    id: r.id,
    replayOf: r.replayOf,
    status: r.status,
    createdAt: r.createdAt,
    durationMs: r.durationMs,
    costUsd: r.costUsd,
    costByService: Object.fromEntries(Object.entries(byService).map(([k, v]) => [k, usd(v)])),
    result: r.result,
    errorMessage: r.errorMessage,
    stages: r.stages.map((s) => ({
      name: s.name,
      status: s.status,
      durationMs: s.durationMs,
      reused: s.reusedFrom !== null,
    })),
  };
}
