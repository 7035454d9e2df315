import { z } from "zod";
import { ValidationError } from "../core/errors.js";
import { checkOptions, functionOption, hasMethods, loggerOption } from "../core/option-check.js";
import type { AppOptions } from "./app.js";
import type { DetailCacheOptions } from "./detail-cache.js";
import type { ServeOptions } from "./serve.js";
import type { SheddingOptions } from "./shedding.js";

const tracker = z.custom<object>(
  (v) => hasMethods(v, ["createRequest", "subscribe", "close"]),
  "must be a Tracker from createTracker()",
);

const shedding = z
  .strictObject({
    maxEventLoopDelayMs: z.number(),
    minEventLoopUtilization: z.number().min(0).max(1),
    sampleIntervalMs: z.number(),
    retryAfterSeconds: z.number(),
    maxInFlight: z.number().int().min(1),
  } satisfies Record<keyof SheddingOptions, z.ZodType>)
  .partial();

/** Names and types of `AppOptions` (`satisfies` keeps the two in step). */
const appOptionsSchema = z.strictObject({
  tracker,
  open: z.boolean().optional(),
  bodyLimit: z.number().optional(),
  streamBuffer: z.number().optional(),
  keepAliveMs: z.number().optional(),
  streamMaxUnsentBytes: z.number().optional(),
  streamTokenTtlMs: z.number().optional(),
  clock: functionOption("() => epoch milliseconds").optional(),
  shedding: z.union([shedding, z.literal(false)]).optional(),
  corsOrigins: z.array(z.string().url()).optional(),
  detailCache: z
    .union([
      z
        .strictObject({
          maxEntries: z.number().int().min(0),
          maxChars: z.number().int().min(0),
        } satisfies Record<keyof DetailCacheOptions, z.ZodType>)
        .partial(),
      z.literal(false),
    ])
    .optional(),
  logger: z.union([loggerOption, z.literal(false)]).optional(),
} satisfies Record<keyof AppOptions, z.ZodType>);

/** Names and types of `ServeOptions`. */
const serveOptionsSchema = z.strictObject({
  tracker,
  host: z.string().optional(),
  port: z.number().optional(),
  bodyLimit: z.number().optional(),
  closeGraceMs: z.number().optional(),
  shedding: z.union([shedding, z.literal(false)]).optional(),
} satisfies Record<keyof ServeOptions, z.ZodType>);

const HINTS = {
  maxSize: { option: "bodyLimit" },
  maxBodySize: { option: "bodyLimit" },
  logLevel: { option: "logger", note: "pass a pino logger at the level you want" },
  address: { option: "host" },
  hostname: { option: "host" },
};

/** Checks `buildApp`'s options: unknown names, wrong types, out-of-range sizes. */
export function checkAppOptions(options: AppOptions): void {
  checkOptions(appOptionsSchema, options ?? {}, { where: "buildApp", hints: HINTS });
  for (const field of ["bodyLimit", "streamBuffer", "streamMaxUnsentBytes"] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new ValidationError(field, "must be a whole number of 1 or more");
    }
  }
  for (const field of ["keepAliveMs", "streamTokenTtlMs"] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
      throw new ValidationError(field, "must be a positive number of milliseconds");
    }
  }
}

/** Checks `serve`'s options the same way. */
export function checkServeOptions(options: ServeOptions): void {
  checkOptions(serveOptionsSchema, options ?? {}, { where: "serve", hints: HINTS });
  const { port } = options;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new ValidationError("port", "must be a port number from 0 to 65535");
  }
}
