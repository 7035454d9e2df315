import { REPLAY_MODES } from "./replay-costs.js";
import { z } from "zod";
import { nameSchema, timestampSchema } from "../core/schemas.js";

/** Input schemas of `tracker.stats` and `tracker.costs`, parsed with `parse()` from core. */
const id = z.string().min(1, "must not be empty").max(256, "at most 256 characters");

const timestamp = timestampSchema;

/** Whole hours or days, up to a year and a bit: "1h", "24h", "7d", "30d". */
const window = z
  .string()
  .regex(/^[1-9]\d{0,3}[hd]$/, 'must be a number of hours or days, like "24h" or "7d"')
  .refine((w) => (w.endsWith("d") ? Number.parseInt(w, 10) <= 400 : true), "at most 400 days")
  .default("24h");

export const overviewSchema = z.strictObject({ window, tenantId: id.optional() });
export type OverviewInput = z.input<typeof overviewSchema>;

export const timeseriesSchema = z
  .strictObject({
    hours: z.number().int().min(1, "must be at least 1").max(9600, "at most 9600").default(24),
    bucket: z.enum(["minute", "hour", "day"]).default("hour"),
    tenantId: id.optional(),
  })
  .refine((t) => t.bucket !== "minute" || t.hours <= 48, {
    path: ["hours"],
    message: "at most 48 with minute buckets",
  });
export type TimeseriesInput = z.input<typeof timeseriesSchema>;

export const GROUP_BY = ["tenantId", "channelId", "userId", "kind", "source"] as const;
export type GroupBy = (typeof GROUP_BY)[number];

const period = { from: timestamp.optional(), to: timestamp.optional() };

export const groupSchema = z.strictObject({
  by: z.enum(GROUP_BY),
  value: id,
  bucket: z.enum(["day", "week", "month"]).default("day"),
  ...period,
});
export type GroupInput = z.input<typeof groupSchema>;

export const stagesSchema = z.strictObject({
  window,
  kind: nameSchema.optional(),
  tenantId: id.optional(),
});
export type StagesInput = z.input<typeof stagesSchema>;

export const costReportSchema = z.strictObject({
  tenantId: id.optional(),
  sessionId: id.optional(),
  ...period,
  /** Replays (issue 15): counted (default), left out, or counted alone. */
  replays: z.enum(REPLAY_MODES, { error: "must be include, exclude or only" }).optional(),
});
export type CostReportInput = z.input<typeof costReportSchema>;

/** Epoch ms of a Date or epoch-ms input. */
export function toMs(value: Date | number | undefined): number | undefined {
  return value === undefined ? undefined : new Date(value).getTime();
}
