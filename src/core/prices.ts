import { z } from "zod";
import { timestampSchema } from "./schemas.js";
import type { JsonValue, PriceUsed } from "./types.js";

/**
 * The price table: what a service charges per input and output token and per unit (an
 * image, a second of video), per model or model pattern, each version in force from its
 * `effectiveFrom` until a later version of the same service and model. Prices are kept as
 * integer micro-USD per million units, so a $0.15 per million tokens price is exact.
 */
export interface Price {
  id: string;
  service: string;
  /** A model name, or a glob pattern where `*` matches any characters (`gpt-4o*`, `*`). */
  model: string;
  inputUsdPerMillion: number | null;
  outputUsdPerMillion: number | null;
  unitUsd: number | null;
  /** What one unit is ("image", "second"); informative only. */
  unit: string | null;
  effectiveFrom: Date;
  createdAt: Date;
}

const usd = z
  .number({ error: "must be a number of USD" })
  .finite("must be a finite number")
  .nonnegative("must not be negative")
  .max(1_000_000, "at most 1,000,000 USD");

/** What `tracker.prices.set()` (and `POST /api/v1/prices`) accepts. */
export const priceInputSchema = z
  .strictObject({
    service: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/, "must be a service name like openai"),
    model: z
      .string()
      .min(1, "must not be empty")
      .max(200, "at most 200 characters")
      .regex(/^[A-Za-z0-9_.:/@*+-]+$/, "must be a model name or a pattern with *"),
    inputUsdPerMillion: usd.optional(),
    outputUsdPerMillion: usd.optional(),
    unitUsd: usd.optional(),
    unit: z.string().min(1).max(64).optional(),
    effectiveFrom: timestampSchema.optional(),
  })
  .refine(
    (p) =>
      p.inputUsdPerMillion !== undefined ||
      p.outputUsdPerMillion !== undefined ||
      p.unitUsd !== undefined,
    { message: "give inputUsdPerMillion, outputUsdPerMillion or unitUsd", path: ["price"] },
  );
export type PriceInput = z.input<typeof priceInputSchema>;

/**
 * Micro-USD per million units: the unit every price is stored and multiplied in. Token
 * prices come per million tokens already; a unit price per one unit.
 */
export const perMillionToMicros = (usdPerMillion: number): number =>
  Math.round(usdPerMillion * 1_000_000);
export const perUnitToMicros = (usdPerUnit: number): number =>
  Math.round(usdPerUnit * 1_000_000_000_000);
export const microsToPerMillion = (m: number): number => m / 1_000_000;
export const microsToPerUnit = (m: number): number => m / 1_000_000_000_000;

/** What a cost's `usage` says, in the names reqtrack reads (and the common aliases). */
export interface PricedUsage {
  model: string;
  inputTokens: number;
  outputTokens: number;
  units: number;
}

const count = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;

/**
 * The model and counts in `usage`: `model`, `inputTokens` (or `input_tokens`,
 * `prompt_tokens`), `outputTokens` (or `output_tokens`, `completion_tokens`), `units`.
 * Null when it counts nothing that a price could apply to.
 */
export function readUsage(usage: JsonValue | null): PricedUsage | null {
  if (usage === null || typeof usage !== "object" || Array.isArray(usage)) return null;
  const u = usage as Record<string, unknown>;
  const inputTokens = count(u.inputTokens) ?? count(u.input_tokens) ?? count(u.prompt_tokens);
  const outputTokens =
    count(u.outputTokens) ?? count(u.output_tokens) ?? count(u.completion_tokens);
  const units = count(u.units);
  if (inputTokens === undefined && outputTokens === undefined && units === undefined) return null;
  return {
    model: typeof u.model === "string" ? u.model : "",
    inputTokens: inputTokens ?? 0,
    outputTokens: outputTokens ?? 0,
    units: units ?? 0,
  };
}

function globMatches(pattern: string, model: string): boolean {
  if (!pattern.includes("*")) return pattern === model;
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${source}$`).test(model);
}

/**
 * The price in force for `service` and `model` at `at`: an exact model before a pattern, a
 * longer (more specific) pattern before a shorter one, and of those the latest version that
 * started at or before `at`. Null when none applies.
 */
export function priceInForce(
  prices: readonly Price[],
  service: string,
  model: string,
  at: number,
): Price | null {
  let best: Price | null = null;
  const rank = (p: Price) => (p.model.includes("*") ? p.model.replaceAll("*", "").length : 1e6);
  for (const p of prices) {
    if (p.service !== service || p.effectiveFrom.getTime() > at) continue;
    if (!globMatches(p.model, model)) continue;
    if (
      !best ||
      rank(p) > rank(best) ||
      (rank(p) === rank(best) && p.effectiveFrom.getTime() > best.effectiveFrom.getTime())
    ) {
      best = p;
    }
  }
  return best;
}

/** The amount in micro-USD that `price` gives `usage`, and the record of the price used. */
export function priceCost(price: Price, usage: PricedUsage): { micros: number; used: PriceUsed } {
  const tokens = (usd: number | null) => (usd === null ? 0 : perMillionToMicros(usd));
  const perMillion =
    usage.inputTokens * tokens(price.inputUsdPerMillion) +
    usage.outputTokens * tokens(price.outputUsdPerMillion) +
    usage.units * (price.unitUsd === null ? 0 : perUnitToMicros(price.unitUsd));
  return {
    micros: Math.round(perMillion / 1_000_000),
    used: {
      priceId: price.id,
      service: price.service,
      pattern: price.model,
      model: usage.model,
      inputUsdPerMillion: price.inputUsdPerMillion,
      outputUsdPerMillion: price.outputUsdPerMillion,
      unitUsd: price.unitUsd,
      effectiveFrom: price.effectiveFrom.toISOString(),
    },
  };
}
