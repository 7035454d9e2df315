import { z } from "zod";
import { ValidationError } from "./errors.js";
import { jsonProblem, MAX_INPUT_BYTES } from "./json.js";
import { REQUEST_STATUSES, SEVERITIES } from "./types.js";

/**
 * Input schemas (zod). Every public method parses its input with one of these through
 * `parse()`, which turns the first zod issue into a `ValidationError` naming the field.
 */
/**
 * Free text: any characters but NUL, which PostgreSQL cannot store in a text column (and
 * which SQLite would keep), so that both stores accept exactly the same input.
 */
const plain = (max: number) =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    .refine((s) => !s.includes("\u0000"), "must not contain NUL (\\u0000) characters");

const text = (max = 256) => plain(max).pipe(z.string().min(1, "must not be empty"));

/** A JSON-compatible value no larger than `maxBytes` once serialized. */
export const json = (maxBytes = MAX_INPUT_BYTES) =>
  z.unknown().superRefine((value, ctx) => {
    const problem = jsonProblem(value);
    if (problem) {
      ctx.addIssue({ code: "custom", message: problem });
      return;
    }
    if (value !== undefined && Buffer.byteLength(JSON.stringify(value)) > maxBytes) {
      ctx.addIssue({ code: "custom", message: `larger than ${maxBytes} bytes as JSON` });
    }
  });

/** The last millisecond of the year 9999 UTC: the latest time reqtrack accepts anywhere. */
export const MAX_EPOCH_MS = 253_402_300_799_999;

/** A Date or epoch milliseconds from 1970 to the end of 9999 (the range ISO-8601 can write). */
export const timestampSchema = z.custom<Date | number>((v) => {
  const ms = v instanceof Date ? v.getTime() : v;
  return typeof ms === "number" && Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_EPOCH_MS;
}, "must be a valid Date or epoch milliseconds between 1970 and 9999");
const timestamp = timestampSchema;

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const requestId = z
  .string()
  .regex(ID_PATTERN, "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'");
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/;
export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, "must be 1-100 characters of letters, digits, '_', '.', ':', '/' or '-'");

export const createRequestSchema = z.strictObject({
  id: requestId.optional(),
  userId: text(),
  channelId: text().optional(),
  tenantId: text().optional(),
  sessionId: text().optional(),
  kind: nameSchema.optional(),
  source: text().optional(),
  initialMessage: plain(MAX_INPUT_BYTES).optional(),
  priority: z
    .number()
    .min(0, "must be between 0 and 1")
    .max(1, "must be between 0 and 1")
    .default(0.5),
  input: json().optional(),
  tags: z.array(text(100)).max(50, "at most 50 tags").default([]),
  deadline: timestamp.optional(),
  intent: text().optional(),
  entities: json(64 * 1024).optional(),
  parentId: requestId.optional(),
  correlationId: text(128).optional(),
  maxAttempts: z.number().int().min(1).max(1000).optional(),
  timeoutMs: z.number().int().positive().optional(),
  /** What the request is expected to cost: held against enforce budgets until it ends. */
  estimatedCostUsd: z
    .number({ error: "must be a number of USD" })
    .finite("must be a finite number")
    .nonnegative("must not be negative")
    .max(1e9, "at most 1,000,000,000 USD")
    .optional(),
});
export type CreateRequestInput = z.input<typeof createRequestSchema>;
/** A creation input once parsed: defaults applied, everything validated. */
export type CreateRequestData = z.output<typeof createRequestSchema>;

/** `tracker.annotate()`: what was found out after creation, validated as at creation. */
export const annotateSchema = z
  .strictObject({
    intent: text().nullable().optional(),
    entities: json(64 * 1024).optional(),
    tags: z.array(text(100)).max(50, "at most 50 tags").optional(),
    metadata: z
      .record(z.string().max(256, "keys of at most 256 characters"), z.unknown())
      .superRefine((value, ctx) => {
        const problem = json(256 * 1024).safeParse(value);
        if (!problem.success)
          ctx.addIssue({
            code: "custom",
            message: problem.error.issues[0]?.message ?? "is not JSON",
          });
      })
      .optional(),
  })
  .refine(
    (a) => Object.values(a).some((v) => v !== undefined),
    "must set at least one of intent, entities, tags, metadata",
  );
export type AnnotateInput = z.input<typeof annotateSchema>;

export const errorInfoSchema = z.strictObject({
  message: plain(64 * 1024),
  stage: nameSchema.optional(),
  details: json(256 * 1024).optional(),
});
export type ErrorInput = z.input<typeof errorInfoSchema>;

export const stageFailureSchema = z.strictObject({
  message: plain(64 * 1024),
  details: json(256 * 1024).optional(),
  retryable: z.boolean().default(false),
});
export type StageFailureInput = z.input<typeof stageFailureSchema>;

export const logEventSchema = z.strictObject({
  type: nameSchema,
  message: plain(64 * 1024).default(""),
  severity: z.enum(SEVERITIES).default("info"),
  stage: nameSchema.optional(),
  data: json(256 * 1024).optional(),
});
export type LogEventInput = z.input<typeof logEventSchema>;

export const recordCostSchema = z.strictObject({
  service: nameSchema,
  /** Left out: computed from the price table and `usage` (see docs/costs.md). */
  amountUsd: z
    .number({ error: "must be a number of USD" })
    .nonnegative("must not be negative")
    .max(1e9)
    .refine(Number.isFinite, "must be finite")
    .optional(),
  usage: json(64 * 1024).optional(),
  stage: nameSchema.optional(),
});
export type RecordCostInput = z.input<typeof recordCostSchema>;

export const counterSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, "must be snake_case: a-z, 0-9 and '_', starting with a letter");

const statusSchema = z.enum(REQUEST_STATUSES);

export const listFilterSchema = z.strictObject({
  status: z.union([statusSchema, z.array(statusSchema).min(1)]).optional(),
  userId: text().optional(),
  tenantId: text().optional(),
  channelId: text().optional(),
  sessionId: text().optional(),
  kind: nameSchema.optional(),
  /** Children of one request: a conversation walked forwards. */
  parentId: requestId.optional(),
  source: text().optional(),
  tag: text(100).optional(),
  /** Text the prompt contains (case-insensitive for ASCII letters, wildcards taken literally). */
  prompt: text(500).optional(),
  from: timestamp.optional(),
  to: timestamp.optional(),
  includeDeleted: z.boolean().optional(),
  limit: z.number().int().min(0, "must not be negative").max(1000, "at most 1000").default(50),
  offset: z.number().int().min(0, "must not be negative").default(0),
  cursor: z.string().max(512).optional(),
});
export type ListRequestsInput = z.input<typeof listFilterSchema>;

/** Parses `value` with `schema`, or throws a `ValidationError` naming the first bad field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, root = "input"): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join(".") : root;
  let message = issue?.message ?? "is invalid";
  if (issue?.code === "unrecognized_keys") {
    message = `unknown field(s) ${issue.keys.join(", ")}`;
  } else if (issue?.code === "invalid_type" && /received undefined/.test(message)) {
    message = "is required";
  }
  throw new ValidationError(field, message, { cause: result.error });
}
