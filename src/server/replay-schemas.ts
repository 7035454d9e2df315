import { z } from "zod";
import { REQUEST_STATUSES } from "../core/types.js";
import { component, requestSchema } from "./openapi-schemas.js";

/**
 * The OpenAPI components of the replay and price routes (what the handlers return, as
 * `openapi-schemas.ts` describes the rest: times are `Date`s here, ISO-8601 on the wire).
 */
const status = z.enum(REQUEST_STATUSES);

export const replayRefSchema = component(
  "ReplayRef",
  "A replay of a request: its id, status and creation time.",
  z.object({ id: z.string(), status, createdAt: z.date() }),
);

export const replayListSchema = z.object({ items: z.array(replayRefSchema) });

const compareSideSchema = component(
  "CompareSide",
  "One side of a comparison.",
  z.object({
    id: z.string(),
    replayOf: z.string().nullable(),
    status,
    createdAt: z.date(),
    durationMs: z.number().nullable(),
    costUsd: z.number(),
    costByService: z.record(z.string(), z.number()),
    result: z.unknown(),
    errorMessage: z.string().nullable(),
    stages: z.array(
      z.object({
        name: z.string(),
        status: z.string(),
        durationMs: z.number().nullable(),
        reused: z.boolean(),
      }),
    ),
  }),
);

export const comparisonSchema = component(
  "Comparison",
  "Two requests side by side (an original and its replay, typically); deltas are right minus left.",
  z.object({
    left: compareSideSchema,
    right: compareSideSchema,
    durationDeltaMs: z.number().nullable(),
    costDeltaUsd: z.number(),
    sameStatus: z.boolean(),
    sameResult: z.boolean(),
  }),
);

export const replayJobSchema = component(
  "ReplayJob",
  "A bulk replay: the filter it picked requests by, and how far it got.",
  z.object({
    id: z.string(),
    filter: z.object({
      status: z.array(status).optional(),
      kind: z.string().optional(),
      tenantId: z.string().optional(),
      /** Epoch milliseconds. */
      from: z.number().optional(),
      to: z.number().optional(),
    }),
    ratePerSecond: z.number(),
    fromStage: z.string().nullable(),
    status: z.enum(["running", "completed", "stopped"]),
    total: z.number().int(),
    done: z.number().int(),
    error: z.string().nullable(),
    createdAt: z.date(),
    updatedAt: z.date(),
  }),
);

export const replayJobListSchema = z.object({ items: z.array(replayJobSchema) });

export const priceSchema = component(
  "Price",
  "One version of a service's price for a model (or a model pattern with *).",
  z.object({
    id: z.string(),
    service: z.string(),
    model: z.string(),
    inputUsdPerMillion: z.number().nullable(),
    outputUsdPerMillion: z.number().nullable(),
    unitUsd: z.number().nullable(),
    unit: z.string().nullable(),
    effectiveFrom: z.date(),
    createdAt: z.date(),
  }),
);

export const priceListSchema = z.object({ items: z.array(priceSchema) });

export const requestDetailSchema = component(
  "RequestDetail",
  "A request with its stages, costs, and the replays made of it (oldest first).",
  requestSchema.extend({ replays: z.array(replayRefSchema) }),
);
