import { z } from "zod";
import {
  createRequestSchema,
  listFilterSchema,
  MAX_EPOCH_MS,
  nameSchema,
} from "../core/schemas.js";
import { REQUEST_STATUSES } from "../core/types.js";

/**
 * HTTP shapes. They reuse the core schemas wherever JSON allows, so the OpenAPI document
 * at /docs is generated from the same definitions that validate.
 */
export const isoOrMs = z.union([
  z.iso.datetime({ offset: true }),
  z.coerce.number().int().nonnegative().max(MAX_EPOCH_MS),
]);

/** Query-string times are ISO-8601 or epoch milliseconds. */
export const toEpoch = (value: string | number | undefined): number | undefined =>
  value === undefined ? undefined : typeof value === "number" ? value : Date.parse(value);

export const idParams = z.object({ id: z.string().min(1).max(128) });
export const stageParams = idParams.extend({ name: nameSchema });

export const createRequestBody = createRequestSchema.extend({ deadline: isoOrMs.optional() });

const csvStatuses = z
  .string()
  .transform((v) => v.split(","))
  .pipe(z.array(z.enum(REQUEST_STATUSES)).min(1));

export const listQuery = z.strictObject({
  status: csvStatuses.optional(),
  userId: listFilterSchema.shape.userId,
  tenantId: listFilterSchema.shape.tenantId,
  channelId: listFilterSchema.shape.channelId,
  sessionId: listFilterSchema.shape.sessionId,
  kind: listFilterSchema.shape.kind,
  parentId: listFilterSchema.shape.parentId,
  source: listFilterSchema.shape.source,
  tag: listFilterSchema.shape.tag,
  prompt: listFilterSchema.shape.prompt,
  from: isoOrMs.optional(),
  to: isoOrMs.optional(),
  includeDeleted: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(0).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
  cursor: z.string().max(512).optional(),
});

export const transitionBody = z.strictObject({
  to: z.enum(REQUEST_STATUSES),
  workerId: nameSchema.optional(),
  result: z.unknown().optional(),
  error: z
    .union([
      z.string(),
      z.object({
        message: z.string(),
        stage: z.string().optional(),
        details: z.unknown().optional(),
      }),
    ])
    .optional(),
  reason: z.string().max(2000).optional(),
});

export const stageBody = z
  .object({
    output: z.unknown().optional(),
    message: z.string().optional(),
    details: z.unknown().optional(),
    retryable: z.boolean().optional(),
  })
  .nullish();

export const claimBody = z.strictObject({
  workerId: nameSchema,
  kinds: z.array(nameSchema).max(100).optional(),
  leaseMs: z
    .number()
    .int()
    .positive()
    .max(24 * 3_600_000)
    .optional(),
});

export const heartbeatBody = z.strictObject({ workerId: nameSchema });

export const ingestBody = z.strictObject({ ops: z.array(z.unknown()).max(1000) });

export const streamQuery = z.object({
  tenantId: z.string().optional(),
  status: csvStatuses.optional(),
  kind: z.string().optional(),
  requestId: z.string().optional(),
});

export const depthQuery = z.object({ tenantId: z.string().optional() });
