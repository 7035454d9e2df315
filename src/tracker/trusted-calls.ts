import type { TrustedCreateInput } from "./op-builder.js";

export type { TrustedCreateInput } from "./op-builder.js";

/**
 * The HTTP middleware's way in: the tracker's `createRequest`/`startRequest`/`completeRequest`
 * without parsing what the middleware built from values it had already bounded, and without
 * the `Request` view `createRequest` returns (the middleware never reads it). Symbol-keyed so
 * that it stays out of the public API; a tracker without them (a test double, an older
 * build) is driven through the public methods instead.
 */
export const beginTrustedCall = Symbol("reqtrack.beginTrustedCall");
export const completeTrustedCall = Symbol("reqtrack.completeTrustedCall");

/** How a call the middleware tracks ended, as `completeRequest` stores it in `result`. */
export interface TrustedOutcome {
  statusCode: number;
  route: string | null;
  processingMs: number;
}

/** What a tracker offers the middleware beside its public methods. */
export interface TrustedCalls {
  /** Submits the call's create and its `running` transition, in that order, in this turn. */
  [beginTrustedCall](input: TrustedCreateInput): Promise<unknown>;
  /** Submits `running -> completed` with `outcome` as the result. */
  [completeTrustedCall](id: string, outcome: TrustedOutcome): Promise<unknown>;
}

/** The tracker's trusted entry points, when it has them. */
export function trustedCallsOf(tracker: object): TrustedCalls | null {
  const t = tracker as Partial<TrustedCalls>;
  return typeof t[beginTrustedCall] === "function" && typeof t[completeTrustedCall] === "function"
    ? (tracker as TrustedCalls)
    : null;
}
