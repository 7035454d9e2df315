import { z } from "zod";
import {
  BudgetExceededError,
  type BudgetExceededDetails,
  ForbiddenError,
  ReqtrackError,
  ValidationError,
} from "../core/errors.js";
import type { Op, OpResult } from "../core/ops.js";
import { parse } from "../core/schemas.js";
import { REQUEST_STATUSES } from "../core/types.js";
import type { OpBuilder, OpOrigin } from "./op-builder.js";

/** At most this many ops per ingest call. */
export const MAX_INGEST_OPS = 1000;

/** How far in the future a client's op time may be before it is refused (clock skew). */
const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/**
 * One remote op (the remote SDK's wire format). `opId` makes it idempotent: sending the
 * same op twice applies it once. `at` is when it happened on the client (epoch ms).
 */
export const ingestOpSchema = z.object({
  opId: z
    .string()
    .regex(
      /^[A-Za-z0-9_.:-]{1,128}$/,
      "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'",
    ),
  type: z.enum([
    "create",
    "transition",
    "stage",
    "event",
    "cost",
    "increment",
    "delete",
    "annotate",
    "context",
  ]),
  at: z.number().int().nonnegative().optional(),
  requestId: z.string().optional(),
  request: z.unknown().optional(),
  to: z.enum(REQUEST_STATUSES).optional(),
  workerId: z.string().optional(),
  result: z.unknown().optional(),
  error: z.unknown().optional(),
  reason: z.string().optional(),
  stage: z.string().optional(),
  action: z.enum(["start", "complete", "fail"]).optional(),
  output: z.unknown().optional(),
  failure: z.unknown().optional(),
  event: z.unknown().optional(),
  cost: z.unknown().optional(),
  counter: z.string().optional(),
  by: z.number().optional(),
  annotation: z.unknown().optional(),
  context: z.unknown().optional(),
});
export type IngestOp = z.input<typeof ingestOpSchema>;

export type IngestResult =
  | { opId: string; ok: true; requestId: string; duplicate?: boolean; degraded?: boolean }
  | {
      opId: string | null;
      ok: false;
      error: { code: string; message: string; field?: string; budget?: BudgetExceededDetails };
    };

export interface IngestHost {
  builder: OpBuilder;
  clock: () => number;
  submit: (op: Op) => Promise<OpResult>;
}

/** Validates, scopes and submits remote ops; they share group commits like local calls. */
export async function ingestOps(
  raw: readonly unknown[],
  tenantId: string | null,
  host: IngestHost,
): Promise<IngestResult[]> {
  if (!Array.isArray(raw)) throw new ValidationError("ops", "must be an array");
  if (raw.length > MAX_INGEST_OPS)
    throw new ValidationError("ops", `at most ${MAX_INGEST_OPS} ops per call`);
  const now = host.clock();
  const built: (Op | IngestResult)[] = [];
  for (const [i, item] of raw.entries()) {
    try {
      const wire = parse(ingestOpSchema, item, `ops.${i}`);
      if (wire.at !== undefined && wire.at > now + MAX_FUTURE_SKEW_MS) {
        throw new ValidationError("at", "is too far in the future");
      }
      // Op ids are namespaced by tenant, so tenants cannot collide with each other's ids.
      const origin: OpOrigin = {
        opId: `ingest:${tenantId ?? "-"}:${wire.opId}`,
        at: wire.at ?? now,
      };
      const op = buildOp(wire, origin, host.builder, tenantId);
      op.dedupe = true;
      // The store itself keeps a confined op inside its tenant (an op on another tenant's
      // request fails as not found), on every path: in this batch, from the outbox, later.
      if (tenantId !== null) op.tenant = tenantId;
      built.push(op);
    } catch (error) {
      built.push(failure(opIdOf(item), error));
    }
  }
  return Promise.all(
    built.map(async (entry, i): Promise<IngestResult> => {
      if (!("type" in entry)) return entry;
      const opId = opIdOf(raw[i]) as string;
      try {
        const result = await host.submit(entry);
        const requestId = entry.type === "create" ? entry.request.id : entry.requestId;
        return {
          opId,
          ok: true,
          requestId,
          ...(result.ok && result.duplicate ? { duplicate: true } : {}),
          ...(result.ok && result.degraded ? { degraded: true } : {}),
        };
      } catch (error) {
        return failure(opId, error);
      }
    }),
  );
}

function buildOp(
  wire: z.output<typeof ingestOpSchema>,
  origin: OpOrigin,
  b: OpBuilder,
  tenantId: string | null,
): Op {
  const id = wire.requestId;
  switch (wire.type) {
    case "create": {
      const request = { ...(wire.request as Record<string, unknown> | undefined) };
      if (tenantId !== null) {
        if (request.tenantId !== undefined && request.tenantId !== tenantId) {
          throw new ForbiddenError(`This API key is confined to tenant ${tenantId}`);
        }
        request.tenantId = tenantId;
      }
      return b.create(request, origin);
    }
    case "transition":
      if (!wire.to) throw new ValidationError("to", "is required");
      return b.transition(id, wire.to, wire, origin);
    case "stage":
      if (!wire.action) throw new ValidationError("action", "is required");
      return b.stage(id, wire.stage, wire.action, wire, origin);
    case "event":
      return b.event(id, wire.event, origin);
    case "cost":
      return b.cost(id, wire.cost, origin);
    case "increment":
      return b.increment(id, wire.counter, wire.by, origin);
    case "delete":
      return b.delete(id, origin);
    case "annotate":
      return b.annotate(id, wire.annotation, origin);
    case "context": {
      const tenant = (wire.context as { tenantId?: unknown } | null | undefined)?.tenantId;
      if (tenantId !== null && tenant !== undefined && tenant !== tenantId) {
        throw new ForbiddenError(`This API key is confined to tenant ${tenantId}`);
      }
      return b.context(id, wire.context, origin);
    }
  }
}

function opIdOf(item: unknown): string | null {
  const opId = (item as { opId?: unknown } | null)?.opId;
  return typeof opId === "string" ? opId : null;
}

function failure(opId: string | null, error: unknown): IngestResult {
  if (error instanceof ReqtrackError) {
    const field = error instanceof ValidationError ? { field: error.field } : {};
    const budget = error instanceof BudgetExceededError ? { budget: error.budget } : {};
    return {
      opId,
      ok: false,
      error: { code: error.code, message: error.message, ...field, ...budget },
    };
  }
  throw error;
}
